"""Alembic environment of the policy library (version table knowledge_alembic_version; see zhixiang.db)."""

from zhixiang.db import run_migrations_online
from zhixiang.knowledge._models import Base

run_migrations_online(Base.metadata)
