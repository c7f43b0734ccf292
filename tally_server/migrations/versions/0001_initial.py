"""The index, node and kiosk health tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 11:53:03.549905
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indexed_batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("first_block", sa.BigInteger(), nullable=False),
        sa.Column("last_block", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("first_block"),
        sa.UniqueConstraint("last_block"),
    )
    op.create_table(
        "indexer_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "kiosk_health",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reader", sa.String(length=16), nullable=False),
        sa.Column("outbox_depth", sa.Integer(), nullable=False),
        sa.Column("wrong_pin", sa.Integer(), nullable=False),
        sa.Column("locked", sa.Integer(), nullable=False),
        sa.Column("forgotten_pin", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("ballots_cast", sa.Integer(), nullable=False),
        sa.Column("ballots_checked", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_kiosk_health_kiosk_id"), "kiosk_health", ["kiosk_id"], unique=False)
    op.create_table(
        "node_disagreements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("height", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "height", "detail", name="uq_disagreement"),
    )
    op.create_table(
        "node_observations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("head", sa.BigInteger(), nullable=True),
        sa.Column("head_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("peers", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_node_observations_url"), "node_observations", ["url"], unique=False)
    op.create_table(
        "ballots",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.LargeBinary(length=20), nullable=False),
        sa.Column("token_signature", sa.LargeBinary(), nullable=False),
        sa.Column("binding_signature", sa.LargeBinary(), nullable=False),
        sa.Column("ballot", sa.LargeBinary(), nullable=False),
        sa.Column("ballot_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("tracking_code", sa.String(length=80), nullable=False),
        sa.Column("check_code", sa.String(length=40), nullable=True),
        sa.Column("check_message", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=True),
        sa.Column("reason_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["indexed_batches.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("ballot_hash"),
        sa.UniqueConstraint("tracking_code"),
    )
    op.create_index(op.f("ix_ballots_batch_id"), "ballots", ["batch_id"], unique=False)
    op.create_index(op.f("ix_ballots_status"), "ballots", ["status"], unique=False)
    op.create_index(op.f("ix_ballots_token"), "ballots", ["token"], unique=False)
    op.create_table(
        "checked_ballots",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("kiosk", sa.String(length=42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("ballot", sa.LargeBinary(), nullable=False),
        sa.Column("ballot_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("tracking_code", sa.String(length=80), nullable=False),
        sa.Column("master_nonce", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["indexed_batches.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("ballot_hash"),
        sa.UniqueConstraint("tracking_code"),
    )
    op.create_index(
        op.f("ix_checked_ballots_batch_id"), "checked_ballots", ["batch_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_checked_ballots_batch_id"), table_name="checked_ballots")
    op.drop_table("checked_ballots")
    op.drop_index(op.f("ix_ballots_token"), table_name="ballots")
    op.drop_index(op.f("ix_ballots_status"), table_name="ballots")
    op.drop_index(op.f("ix_ballots_batch_id"), table_name="ballots")
    op.drop_table("ballots")
    op.drop_index(op.f("ix_node_observations_url"), table_name="node_observations")
    op.drop_table("node_observations")
    op.drop_table("node_disagreements")
    op.drop_index(op.f("ix_kiosk_health_kiosk_id"), table_name="kiosk_health")
    op.drop_table("kiosk_health")
    op.drop_table("indexer_events")
    op.drop_table("indexed_batches")
