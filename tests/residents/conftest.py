"""Resident data fixtures: a warehouse on each engine (embedded DuckDB, and PostgreSQL when a server runs)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from zhixiang.datahub import Warehouse, open_warehouse


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same tests run on the embedded default and on PostgreSQL (in a schema of their own)."""
    if request.param == "duckdb":
        yield f"duckdb://{tmp_path / 'warehouse.duckdb'}"
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"rd_test_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}schema={schema}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def wh(warehouse_url: str) -> Iterator[Warehouse]:
    with open_warehouse(warehouse_url) as warehouse:
        yield warehouse
