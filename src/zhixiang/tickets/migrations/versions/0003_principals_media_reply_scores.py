"""callers are access principals (api_keys dropped); media; reply scores; auto_dispatched = at intake

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("api_keys")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("reply_problems", sa.JSON(), nullable=True))
        batch_op.alter_column(
            "idempotency_scope",
            existing_type=sa.String(length=16),
            type_=sa.String(length=64),
            existing_nullable=True,
        )
    # `auto_dispatched` now means "dispatched at intake" (by the rules or the model), which is what
    # intake answered; the model's own dispatches are those with a model version.
    op.execute(
        "UPDATE tickets SET auto_dispatched = TRUE "
        "WHERE category_source = 'given' AND dispatched_at = created_at"
    )
    op.create_table(
        "ticket_media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ticket_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_media_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_media_ticket_id"))
    op.drop_table("ticket_media")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.alter_column(
            "idempotency_scope",
            existing_type=sa.String(length=64),
            type_=sa.String(length=16),
            existing_nullable=True,
        )
        batch_op.drop_column("reply_problems")
        batch_op.drop_column("reply_score")
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=True),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
