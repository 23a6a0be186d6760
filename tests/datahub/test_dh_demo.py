"""The demo's departments arrive through the import path: Excel, GBK CSV, SQL tables, Parquet."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pyarrow.compute as pc
import pytest

from zhixiang.catalog import load_catalog
from zhixiang.config import Settings
from zhixiang.datahub import import_sources, load_mapping, open_warehouse, quarantine_rows
from zhixiang.demo import generate_enterprises
from zhixiang.demo.departments import import_demo_sources, write_department_extracts


def check_demo_import(
    warehouse_url: str, folder: Path, sql_url: str | None = None, sql_schema: str | None = None
) -> None:
    table = generate_enterprises(300, seed=3)
    extracts = write_department_extracts(table, folder, sql_url=sql_url, sql_schema=sql_schema)
    formats = {load_mapping(p).format for p in extracts.mappings}
    assert formats == {"excel", "csv", "sql", "parquet"}
    with open_warehouse(warehouse_url) as wh:
        report = import_sources(wh, [load_mapping(p) for p in extracts.mappings])
        assert not report.rejected
        assert report.entity_rows == {"enterprise": 300}
        assert report.conflicts["enterprise"] >= 1  # 统计局's revenue differs for a few enterprises
        quarantined = quarantine_rows(wh).to_pylist()
        got = wh.arrow(
            "SELECT * FROM enterprise ORDER BY credit_code",
            schema=load_catalog("enterprise").arrow_schema(),
        )
    for fault in extracts.faults:
        hits = [q for q in quarantined if q["source"] == fault.source and q["field"] == fault.field]
        assert any(fault.value in (q["value"] or q["record"] or "") for q in hits), fault
    assert len(quarantined) == len(extracts.faults)
    assert got.schema.equals(load_catalog("enterprise").arrow_schema())
    # Every fact arrives unchanged except those in quarantined rows (which stay unknown).
    expected = table.sort_by("credit_code")
    spoiled = {f.credit_code for f in extracts.faults}
    keep = pc.invert(
        pc.is_in(expected["credit_code"], value_set=__import__("pyarrow").array(sorted(spoiled)))
    )
    assert got.filter(keep).equals(expected.filter(keep))


def test_demo_departments_on_duckdb_with_sqlite_sources(tmp_path: Path) -> None:
    check_demo_import(f"duckdb://{tmp_path / 'w.duckdb'}", tmp_path / "departments")


def test_demo_departments_on_postgresql_with_postgresql_sources(
    tmp_path: Path, postgres_url: str
) -> None:
    schema = f"dh_demo_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sql_url = postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
        check_demo_import(
            f"{postgres_url}?schema={schema}", tmp_path / "departments", sql_url, schema
        )
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_import_demo_sources_fills_the_warehouse_table_the_rules_engine_reads(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path, warehouse=f"duckdb://{tmp_path / 'z.duckdb'}")
    report = import_demo_sources(settings, generate_enterprises(50, seed=1))
    assert report.entity_rows == {"enterprise": 50} and report.rows_quarantined == 6
    assert (tmp_path / "data" / "departments" / "税务局_纳税申报.csv").read_bytes().decode("gbk")


@pytest.mark.parametrize("rows", [0, 3])
def test_tiny_tables_still_import(tmp_path: Path, rows: int) -> None:
    settings = Settings(home=tmp_path, warehouse=f"duckdb://{tmp_path / 'z.duckdb'}")
    report = import_demo_sources(
        settings,
        generate_enterprises(rows, seed=1) if rows else generate_enterprises(1).slice(0, 0),
    )
    assert report.entity_rows == {"enterprise": rows}
