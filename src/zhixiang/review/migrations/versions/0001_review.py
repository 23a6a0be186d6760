"""review applications and their history

Revision ID: review_0001
Revises:
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "review_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_applications",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("policy_id", sa.String(120), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("applicant", sa.String(200), nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("declared", sa.JSON, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("amount", sa.Numeric(18, 2)),
        sa.Column("checks", sa.JSON, nullable=False),
        sa.Column("pending", sa.JSON, nullable=False),
        sa.Column("grants", sa.JSON, nullable=False),
        sa.Column("submitted_at", sa.DateTime, nullable=False),
        sa.Column("decided_at", sa.DateTime),
        sa.Column("reason", sa.Text),
    )
    op.create_index("ix_review_applications_policy_id", "review_applications", ["policy_id"])
    op.create_index("ix_review_applications_entity_id", "review_applications", ["entity_id"])
    op.create_index("ix_review_applications_status", "review_applications", ["status"])
    op.create_table(
        "review_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "application_id",
            sa.Integer,
            sa.ForeignKey("review_applications.id"),
            nullable=False,
        ),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("before", sa.String(16)),
        sa.Column("after", sa.String(16), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2)),
        sa.Column("reason", sa.Text),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_review_events_application_id", "review_events", ["application_id"])


def downgrade() -> None:
    op.drop_index("ix_review_events_application_id", table_name="review_events")
    op.drop_table("review_events")
    op.drop_index("ix_review_applications_status", table_name="review_applications")
    op.drop_index("ix_review_applications_entity_id", table_name="review_applications")
    op.drop_index("ix_review_applications_policy_id", table_name="review_applications")
    op.drop_table("review_applications")
