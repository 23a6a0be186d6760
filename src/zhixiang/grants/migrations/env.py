"""Alembic environment of the grant ledger (own version table), on the connection `zhixiang.db.migrate` hands over."""

from zhixiang.db import run_migrations_online
from zhixiang.grants._tables import metadata

run_migrations_online(metadata)
