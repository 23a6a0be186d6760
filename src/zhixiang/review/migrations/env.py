"""Alembic environment of the review tables (own version table), on the connection `zhixiang.db.migrate` hands over."""

from zhixiang.db import run_migrations_online
from zhixiang.review._models import Base

run_migrations_online(Base.metadata)
