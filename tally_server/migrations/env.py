"""Alembic environment: the database URL comes from the caller (``tally_server.db.upgrade``)
or, when run by hand, from the tally server's configuration (``IPPYO_TALLY_*``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from tally_server.models import Base

config = context.config
url = config.attributes.get("database_url")
if url is None:
    from tally_server.config import load_config

    url = load_config().database_url

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
