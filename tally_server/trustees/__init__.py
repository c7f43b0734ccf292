"""The trustee exchange (docs/trustees.md): a Flask Blueprint mounted at ``/api/v1/trustees``.

Trustees run their part of the key ceremony and of the decryption with ``ippyo trustee …``
and upload each step here, signed with their own Ed25519 key registered for the election;
each upload is checked (signature, trustee, phase, proofs, no overwrite) before it is stored
as a file under the app config's ``TRUSTEE_DIR``. :func:`progress` gives the dashboard the
state of every election's ceremony and decryption.
"""

from __future__ import annotations

from tally_server.trustees.exchange import Refusal, progress, publish_tally, setup_election
from tally_server.trustees.views import bp, create_blueprint

__all__ = ["Refusal", "bp", "create_blueprint", "progress", "publish_tally", "setup_election"]
