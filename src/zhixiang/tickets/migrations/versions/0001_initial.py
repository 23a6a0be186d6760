"""tickets, history, follow-ups and API keys

Revision ID: 0001
Revises:
Create Date: 2026-11-25 09:46:14.569554
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
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reporter_name", sa.String(length=64), nullable=True),
        sa.Column("reporter_contact", sa.String(length=64), nullable=True),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("region_code", sa.String(length=12), nullable=True),
        sa.Column("grid_id", sa.String(length=32), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("category_source", sa.String(length=16), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("department", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(), nullable=True),
        sa.Column("sign_due_at", sa.DateTime(), nullable=True),
        sa.Column("signed_at", sa.DateTime(), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("deadline_estimated", sa.Boolean(), nullable=False),
        sa.Column("extensions", sa.Integer(), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("supervised", sa.Boolean(), nullable=False),
        sa.Column("auto_dispatched", sa.Boolean(), nullable=False),
        sa.Column("misrouted", sa.Boolean(), nullable=False),
        sa.Column("escalation_level", sa.String(length=8), nullable=True),
        sa.Column("escalation_region", sa.String(length=32), nullable=True),
        sa.Column("next_escalation_at", sa.DateTime(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("replied_at", sa.DateTime(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        sa.Column("idempotency_scope", sa.String(length=16), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["duplicate_of"],
            ["tickets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_scope", "idempotency_key", name="uq_tickets_idempotency"),
        sa.UniqueConstraint("token"),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tickets_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            "ix_tickets_department_status", ["department", "status"], unique=False
        )
        batch_op.create_index("ix_tickets_grid_created", ["grid_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_group_id"), ["group_id"], unique=False)
        batch_op.create_index(
            "ix_tickets_region_created", ["region_code", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_tickets_status"), ["status"], unique=False)

    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("responded", sa.Boolean(), nullable=True),
        sa.Column("solved", sa.Boolean(), nullable=True),
        sa.Column("satisfaction", sa.String(length=24), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follow_ups_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_follow_ups_department"), ["department"], unique=False)
        batch_op.create_index(batch_op.f("ix_follow_ups_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=48), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_events_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_events_ticket_id"))

    op.drop_table("ticket_events")
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_ups_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_follow_ups_department"))
        batch_op.drop_index(batch_op.f("ix_follow_ups_at"))

    op.drop_table("follow_ups")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tickets_status"))
        batch_op.drop_index("ix_tickets_region_created")
        batch_op.drop_index(batch_op.f("ix_tickets_group_id"))
        batch_op.drop_index("ix_tickets_grid_created")
        batch_op.drop_index("ix_tickets_department_status")
        batch_op.drop_index(batch_op.f("ix_tickets_created_at"))

    op.drop_table("tickets")
    op.drop_table("api_keys")
