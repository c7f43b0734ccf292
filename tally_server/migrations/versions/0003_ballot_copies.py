"""A ballot hash may appear more than once in the index: the one-slot contract accepts a copy of
another token's ballot, which the rules exclude as ``duplicate_ballot`` (it must be stored, with
its reason, not refused by the database — a unique key would stall the indexer on a copy).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# SQLite keeps 0001's unique constraints unnamed; reflected under this convention they get a name.
_NAMING = {"uq": "%(table_name)s_%(column_0_name)s_key"}  # PostgreSQL's own names


def upgrade() -> None:
    with op.batch_alter_table("ballots", naming_convention=_NAMING) as batch:
        batch.drop_constraint("ballots_ballot_hash_key", type_="unique")
        batch.drop_constraint("ballots_tracking_code_key", type_="unique")
        batch.create_index("ix_ballots_ballot_hash", ["ballot_hash"], unique=False)
        batch.create_index("ix_ballots_tracking_code", ["tracking_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ballots", naming_convention=_NAMING) as batch:
        batch.drop_index("ix_ballots_tracking_code")
        batch.drop_index("ix_ballots_ballot_hash")
        batch.create_unique_constraint("ballots_ballot_hash_key", ["ballot_hash"])
        batch.create_unique_constraint("ballots_tracking_code_key", ["tracking_code"])
