"""ippyo's pure election core: no I/O, typed, shared by every component.

See ``election/README.md`` for the layout and ``docs/protocol.md`` for the protocol.
"""

PROTOCOL_VERSION = 1
