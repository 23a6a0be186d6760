"""Shared fixtures: a temporary platform home, and the PostgreSQL server when one is running."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_URL = os.environ.get("ZHIXIANG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty platform home; settings read from the environment point into it."""
    monkeypatch.setenv("ZHIXIANG_HOME", str(tmp_path))
    monkeypatch.delenv("ZHIXIANG_WAREHOUSE", raising=False)
    monkeypatch.delenv("ZHIXIANG_TICKETS_DB", raising=False)
    return tmp_path


def _postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=2):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL server's URL; the test is skipped, saying so, where no server runs."""
    if not _postgres_available():
        pytest.skip(f"PostgreSQL leg skipped: no server at {PG_URL}")
    return PG_URL


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An operational-database URL on each backend; on PostgreSQL a throw-away schema, so parallel
    tests never see each other's tables."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tickets.db'}"
        return
    import psycopg

    base = request.getfixturevalue("postgres_url")
    schema = f"zx_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def tickets_url(database_url: str) -> str:
    """The ticket store's URL on each backend."""
    return database_url
