"""Migration 0004 on SQLite and PostgreSQL: the group index holds only merged tickets, and
downgrading restores the plain index."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from zhixiang.tickets import TicketStore
from zhixiang.tickets._base import MIGRATIONS, VERSION_TABLE


def _index_definition(conn: Connection) -> str:
    """The index's CREATE statement as the database keeps it."""
    if conn.dialect.name == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE name = 'ix_tickets_group_id'"
    else:
        query = (
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_tickets_group_id'"
            " AND schemaname = current_schema()"
        )
    return " ".join(str(conn.execute(text(query)).scalar_one()).split()).lower()


def _to(store: TicketStore, revision: str, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["version_table"] = VERSION_TABLE
    with store._writer.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


def test_the_group_index_holds_only_merged_tickets_and_downgrade_restores_it(
    tickets_url: str,
) -> None:
    store = TicketStore(tickets_url)
    assert store.migrate() == "0004"
    with store.engine.connect() as conn:
        assert "where" in (partial := _index_definition(conn))
        assert "group_id is not null" in partial.replace("(", "").replace(")", "")
        if conn.dialect.name == "sqlite":  # a merge's lookup (group_id = ?) still uses it
            plan = conn.execute(
                text("EXPLAIN QUERY PLAN SELECT id FROM tickets WHERE group_id = 5")
            ).all()
            assert "ix_tickets_group_id" in str(plan)
    _to(store, "0003", down=True)
    with store.engine.connect() as conn:
        assert "where" not in _index_definition(conn)
    _to(store, "head")
    with store.engine.connect() as conn:
        assert "where" in _index_definition(conn)
    store.close()
