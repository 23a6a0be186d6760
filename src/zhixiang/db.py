"""The operational databases (accounts, tickets, ledgers …): one way to open them and to migrate them.

SQLite is the embedded default and PostgreSQL production; every capability that keeps operational
records uses `make_engine` and `migrate` from here, with its own Alembic migrations folder and its own
version table, so several capabilities can share one PostgreSQL database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event, text

# Advisory-lock id under which PostgreSQL migrations of all capabilities are serialised.
_MIGRATION_LOCK = 2104012345
# Execution option: this connection's SQLite transactions take the write lock when they begin.
_IMMEDIATE = "zhixiang_immediate"


def make_engine(url: str, immediate: bool = False) -> Engine:
    """An engine for `url`; plain postgresql:// URLs use psycopg 3, SQLite gets WAL and a busy wait.

    `immediate` makes SQLite take the write lock when a transaction begins, so a read-then-write
    transaction waits its turn instead of failing with "database is locked" halfway through.
    """
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # The wait first: switching a new file to WAL takes a lock another process may hold.
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            dbapi_connection.isolation_level = None  # SQLAlchemy, not the driver, says BEGIN

        @event.listens_for(engine, "begin")
        def _begin(connection: Any) -> None:
            at_once = immediate or connection.get_execution_options().get(_IMMEDIATE, False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if at_once else "BEGIN")

    return engine


def migrate(engine: Engine, migrations: Path, version_table: str) -> str:
    """Bring a capability's tables to its newest revision (a no-op when they are there); return it.

    Server processes may start together: one migrates at a time (PostgreSQL: an advisory lock;
    SQLite: the write lock taken when the transaction begins), and the others find it done.
    """
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.attributes["version_table"] = version_table
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as connection, connection.execution_options(**{_IMMEDIATE: True}).begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
        current = MigrationContext.configure(
            connection, opts={"version_table": version_table}
        ).get_current_revision()
        if current == head:
            return str(head)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return str(head)


def run_migrations_online(metadata: MetaData) -> None:
    """The body of every capability's Alembic `env.py`: migrate on the connection `migrate` hands over."""
    from alembic import context

    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=context.config.attributes["version_table"],
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


__all__ = ["make_engine", "migrate", "run_migrations_online"]
