"""surge alerts

Revision ID: insight_0001
Revises:
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "insight_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insight_alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("area", sa.String(64)),
        sa.Column("category", sa.String(64)),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("first_day", sa.Date, nullable=False),
        sa.Column("last_day", sa.Date, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("expected", sa.Float, nullable=False),
        sa.Column("p_value", sa.Float, nullable=False),
        sa.Column("message_ids", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("department", sa.String(64)),
        sa.Column("ticket_id", sa.Integer),
        sa.Column("note", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("kind", "key", "first_day", name="uq_insight_alert"),
    )
    op.create_index("ix_insight_alerts_key", "insight_alerts", ["key"])


def downgrade() -> None:
    op.drop_index("ix_insight_alerts_key", table_name="insight_alerts")
    op.drop_table("insight_alerts")
