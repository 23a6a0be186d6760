"""the group index holds only merged tickets (WHERE group_id IS NOT NULL): most tickets have none

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MERGED = sa.text("group_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_tickets_group_id", table_name="tickets")
    op.create_index(
        "ix_tickets_group_id",
        "tickets",
        ["group_id"],
        sqlite_where=MERGED,
        postgresql_where=MERGED,
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_group_id", table_name="tickets")
    op.create_index("ix_tickets_group_id", "tickets", ["group_id"])
