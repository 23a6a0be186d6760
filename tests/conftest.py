"""Shared fixtures: a temporary platform home, and the PostgreSQL server when one is running."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from zhixiang.datahub import Warehouse, open_warehouse

PG_URL = os.environ.get("ZHIXIANG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data (`Settings.shared_data_dir`); a test that needs them is skipped, saying where
    it looked, in a clone without them (see README, "Real data")."""
    from zhixiang.config import load_settings

    path = load_settings().shared_data_dir
    if not path.is_dir():
        pytest.skip(
            f"real data not found at {path}: set ZHIXIANG_SHARED_DATA or put shared/data beside "
            "the checkout (README, 'Real data')"
        )
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty platform home; settings read from the environment point into it."""
    monkeypatch.setenv("ZHIXIANG_HOME", str(tmp_path))
    monkeypatch.delenv("ZHIXIANG_WAREHOUSE", raising=False)
    monkeypatch.delenv("ZHIXIANG_TICKETS_DB", raising=False)
    monkeypatch.delenv("ZHIXIANG_ACCESS_DB", raising=False)
    # tests/web's session-wide platform points this at its own rules (no automatic dispatch)
    monkeypatch.delenv("ZHIXIANG_TICKETS_RULES", raising=False)
    # Cheap password hashing in tests (a real deployment keeps Settings' default cost).
    monkeypatch.setenv("ZHIXIANG_PASSWORD_HASH_MEMORY", "1024")
    monkeypatch.setenv("ZHIXIANG_PASSWORD_HASH_ROUNDS", "1")
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


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A warehouse URL on the embedded default and on PostgreSQL (in a schema of its own), so the
    data hub's and the residents' tests run on both engines."""
    if request.param == "duckdb":
        yield f"duckdb://{tmp_path / 'warehouse.duckdb'}"
        return
    import psycopg

    base = request.getfixturevalue("postgres_url")
    schema = f"wh_test_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}schema={schema}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def wh(warehouse_url: str) -> Iterator[Warehouse]:
    """The warehouse layer opened on `warehouse_url`."""
    with open_warehouse(warehouse_url) as warehouse:
        yield warehouse
