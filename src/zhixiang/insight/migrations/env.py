"""Alembic environment of the insight tables: own version table, on the connection handed over."""

from __future__ import annotations

from alembic import context

from zhixiang.insight._models import VERSION_TABLE, Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
