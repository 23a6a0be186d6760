"""智能快审's faster reads keep the data hub's promises: every audited read is still in the keyed,
checkpointed audit chain (the seal read once per fact source), and a read of a warehouse without
the hub's tables still creates them and answers empty instead of failing."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from zhixiang.access import operator
from zhixiang.catalog import Sensitivity, load_catalog
from zhixiang.datahub import (
    audit_log,
    create_grant,
    ensure_tables,
    open_warehouse,
    read_entities,
    verify_audit,
)
from zhixiang.demo import demo_policies_dir, generate_enterprises
from zhixiang.review import PURPOSE, FactSource, ReviewDesk
from zhixiang.rules import load_policies

AS_OF = date(2026, 6, 30)
DEMO = load_policies([demo_policies_dir()]).policies
TAX = dataclasses.replace(
    next(p for p in DEMO if p.id == "tax-contribution-award"),
    id="tax-by-application",
    delivery="申请审核",
)
CATALOG = load_catalog("enterprise")


def _warehouse(path: Path, rows: list[dict]) -> str:
    with duckdb.connect(str(path)) as con:
        con.register("rows_in", pa.Table.from_pylist(rows, schema=CATALOG.arrow_schema()))
        con.execute("CREATE TABLE enterprise AS SELECT * FROM rows_in")
    url = f"duckdb://{path}"
    with open_warehouse(url) as wh:
        ensure_tables(wh)
        create_grant(
            wh,
            grantee=TAX.id,
            grantee_kind="policy",
            entity="enterprise",
            fields=list(TAX.fields_read()),
            purpose=PURPOSE,
            valid_until=date(2030, 12, 31),
            granted_by="data-officer",
            today=AS_OF,
        )
    return url


def test_every_review_read_is_audited_in_the_sealed_chain(home: Path, tmp_path: Path) -> None:
    protected = [f for f in TAX.fields_read() if CATALOG[f].sensitivity is not Sensitivity.PUBLIC]
    assert protected, "the policy must read a protected field for this test to mean anything"
    rows = generate_enterprises(40, seed=5, reference=AS_OF).to_pylist()
    url = _warehouse(tmp_path / "w.duckdb", rows)
    desk = ReviewDesk(f"sqlite:///{tmp_path / 'r.db'}", [*DEMO, TAX], FactSource(url))
    desk.migrate()
    try:
        for row in rows[:5]:
            desk.apply(operator("window-clerk"), TAX.id, row["credit_code"], as_of=AS_OF)
    finally:
        desk.close()
    with open_warehouse(url) as wh:
        log = audit_log(wh, limit=100).to_pylist()
        verified = verify_audit(wh)
    reads = [r for r in log if r["actor"] == f"{TAX.id} via review"]
    assert len(reads) == 5 and all(r["purpose"] == PURPOSE for r in reads)
    assert verified.ok, verified.problem
    assert verified.checkpoint_seq == max(r["seq"] for r in log)  # checkpointed by the seal


def test_a_read_of_a_warehouse_without_hub_tables_creates_them(home: Path, tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'empty.duckdb'}"
    with open_warehouse(url) as wh:
        create_grant(
            wh,
            grantee=TAX.id,
            grantee_kind="policy",
            entity="enterprise",
            fields=list(TAX.fields_read()),
            purpose=PURPOSE,
            valid_until=date(2030, 12, 31),
            granted_by="data-officer",
            today=AS_OF,
        )
        assert not wh.has_table("enterprise")
        shared = read_entities(
            wh,
            "enterprise",
            reader=TAX.id,
            purpose=PURPOSE,
            fields=["credit_code", *TAX.fields_read()],
            keys=["91350200MA00000001"],
            today=AS_OF,
        )
        assert shared.table.num_rows == 0
        assert all(wh.has_table(t) for t in ("enterprise", "dh_imports", "dh_conflicts"))


@pytest.mark.parametrize("reads", [3])
def test_the_fact_source_reads_on_one_thread(home: Path, tmp_path: Path, reads: int) -> None:
    rows = generate_enterprises(10, seed=7, reference=AS_OF).to_pylist()
    source = FactSource(_warehouse(tmp_path / "w.duckdb", rows))
    try:
        for row in rows[:reads]:
            found = source.read(TAX, row["credit_code"], sorted(TAX.fields_read()), AS_OF)
            assert found is not None and found[0]
        threads = source._wh.rows("SELECT current_setting('threads')")[0][0]
        assert int(threads) == 1
    finally:
        source.close()
