"""department queues read in deadline order without sorting the whole queue

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 10:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_department_due", "tickets", ["department", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_department_due", table_name="tickets")
