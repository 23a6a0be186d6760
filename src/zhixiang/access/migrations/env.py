"""Alembic environment: runs on the connection the access store hands over (see `zhixiang.db.migrate`)."""

from zhixiang.access._models import Base
from zhixiang.db import run_migrations_online

run_migrations_online(Base.metadata)
