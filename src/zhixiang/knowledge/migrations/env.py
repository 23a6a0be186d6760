"""Alembic environment for the policy library: its own version table, so databases can be shared."""

from __future__ import annotations

from alembic import context

from zhixiang.knowledge._models import Base

VERSION_TABLE = "knowledge_alembic_version"

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    include_name=lambda name, type_, _parent: type_ != "table" or name.startswith("knowledge_"),
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
