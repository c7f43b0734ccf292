"""The tally server: chain indexer, public observer pages, JSON API and the officials' area.

Layout (docs/tally.md):

* :mod:`tally_server.config` — :class:`~tally_server.config.TallyConfig`, a frozen, typed
  configuration loaded from TOML and ``IPPYO_TALLY_*`` variables, with named errors;
* :mod:`tally_server.app` — ``create_app(config)``: one blueprint per surface, access denied by
  default (:mod:`tally_server.access`), security headers, JSON refusals;
* :mod:`tally_server.models` and ``tally_server/migrations`` — SQLAlchemy 2 tables, Alembic;
* :mod:`tally_server.indexer` — ``ippyo tally index``, its own process;
* ``observer/``, ``api/``, ``officials/`` — the surfaces.
"""
