"""Shared fixtures: a temporary platform home, and the PostgreSQL server when one is running."""

from __future__ import annotations

import os
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
