"""Alembic environment: runs on the connection the ticket store hands over (see `zhixiang.db.migrate`)."""

from zhixiang.db import run_migrations_online
from zhixiang.tickets._tables import Base

run_migrations_online(Base.metadata)
