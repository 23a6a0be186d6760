from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from zhixiang.demo import demo_policies_dir, generate_enterprises
from zhixiang.errors import NotFound
from zhixiang.matching import (
    Calculator,
    EntityLookup,
    MatchFailed,
    connect,
    evaluations,
    list_runs,
    open_results,
    policy_counts,
    run_matching,
)
from zhixiang.rules import evaluate_policy, load_policies

AS_OF = date(2026, 6, 30)
POLICIES = load_policies([demo_policies_dir()]).policies


def warehouse(tmp_path: Path, table: pa.Table, name: str = "w.duckdb") -> str:
    """A DuckDB warehouse file holding `table` as `enterprise`, closed again (matching reads it)."""
    path = tmp_path / name
    with duckdb.connect(str(path)) as con:
        con.register("rows_in", table)
        con.execute("CREATE OR REPLACE TABLE enterprise AS SELECT * FROM rows_in")
        con.execute("CREATE UNIQUE INDEX IF NOT EXISTS enterprise_key ON enterprise(credit_code)")
    return f"duckdb://{path}"


def test_a_run_keeps_the_rows_worth_keeping_and_counts_the_rest(tmp_path: Path) -> None:
    table = generate_enterprises(3000, seed=3, reference=AS_OF)
    seen: list[str] = []
    run = run_matching(
        warehouse(tmp_path, table),
        POLICIES,
        AS_OF,
        results_dir=tmp_path / "results",
        progress=lambda p: seen.append(p.id),
    )
    assert run.entities == 3000 and run.mode == "full" and run.previous is None
    assert sorted(seen) == sorted(p.id for p in POLICIES if p.in_force(AS_OF))
    with open_results(tmp_path / "results") as results:
        assert results.run.run_id == run.run_id
        for counts in run.policies:
            assert counts.eligible + counts.needs_information + counts.ineligible == 3000
            assert counts.kept >= counts.eligible + counts.needs_information + counts.near_miss
            assert results.count(counts.policy_id, "eligible") == counts.eligible
            assert results.count(counts.policy_id, "near_miss") == counts.near_miss
        misses = results.near_misses("export-award", limit=50)
        assert misses and all(m.near_miss and m.status == "ineligible" for m in misses)
        assert {f for m in misses for f in m.failed} <= {"export", "tax_credit"}
        assert [m.closeness for m in misses] == sorted((m.closeness for m in misses), reverse=True)
        top = results.rows("export-award", "eligible", order_by="amount", descending=True, limit=5)
        assert [r.amount for r in top] == sorted((r.amount for r in top), reverse=True)
        assert all(r.status == "eligible" and r.amount is not None for r in top)


def test_stored_rows_decode_to_what_the_calculator_says(tmp_path: Path) -> None:
    table = generate_enterprises(400, seed=5, reference=AS_OF)
    run_matching(warehouse(tmp_path, table), POLICIES, AS_OF, results_dir=tmp_path / "r")
    from zhixiang.catalog import load_catalog
    from zhixiang.matching import facts_from_row

    catalog = load_catalog("enterprise")
    with open_results(tmp_path / "r") as results:
        for row in table.to_pylist()[:40]:
            stored = {r.policy_id: r for r in results.outcome(row["credit_code"])}
            facts = facts_from_row(catalog, row)
            for policy in POLICIES:
                verdict = evaluate_policy(policy, facts, AS_OF)
                got = stored.get(policy.id)
                if got is None:  # not kept: ineligible, not close, not waiting for a date
                    assert verdict.status == "ineligible"
                    assert verdict.holds_on is None
                    assert verdict.closeness is None or verdict.closeness < Decimal("0.5")
                    continue
                assert (got.status, got.amount) == (verdict.status, verdict.amount)
                assert (got.closeness, got.holds_on) == (verdict.closeness, verdict.holds_on)
                assert set(got.failed) == set(verdict.failed)
                assert set(got.unknown) == set(verdict.unknown)


def test_policies_out_of_force_are_skipped(tmp_path: Path) -> None:
    url = warehouse(tmp_path, generate_enterprises(100, reference=AS_OF))
    run = run_matching(url, POLICIES, date(2027, 6, 30), results_dir=tmp_path / "r")
    assert "graduate-hiring-subsidy" in run.skipped  # valid until 2026-12-31
    assert "graduate-hiring-subsidy" not in {c.policy_id for c in run.policies}


def test_calculator_explains_actual_values_and_missing_facts(tmp_path: Path) -> None:
    table = generate_enterprises(500, seed=5, reference=AS_OF)
    lookup = EntityLookup(warehouse(tmp_path, table))
    calculator = Calculator(POLICIES, lookup)
    code = table["credit_code"][0].as_py()
    report = calculator.explain(code, AS_OF)
    assert report is not None and report.entity_id == code
    assert len(report.verdicts) == 14
    data = report.to_dict()
    rd = next(p for p in data["policies"] if p["policy_id"] == "rd-expense-subsidy")
    threshold = rd["conditions"][0]["comparisons"][0]
    assert threshold["threshold"] == "100万元" and threshold["op"] == "≥"
    assert calculator.explain("91350211MA00000000", AS_OF) is None
    assert calculator.explain(code, AS_OF).to_dict() == data  # remembered, identical

    unknown = calculator.evaluate({"high_tech": True}, AS_OF)
    first = next(v for p, v in unknown.verdicts if p.id == "hightech-first-award")
    assert first.status == "needs_information"
    assert {f.label for o in first.conditions for f in o.missing} == {
        "高企认定日期",
        "注册地",
        "严重违法失信",
    }
    lookup.close()


def test_the_lookup_follows_a_warehouse_file_replaced_by_a_swap(tmp_path: Path) -> None:
    table = generate_enterprises(50, seed=1, reference=AS_OF)
    url = warehouse(tmp_path, table)
    lookup = EntityLookup(url)
    code = table["credit_code"][0].as_py()
    assert lookup(code)["revenue"] == table["revenue"][0].as_py()
    rows = table.to_pylist()
    rows[0]["revenue"] = Decimal("123.45")
    warehouse(tmp_path, pa.Table.from_pylist(rows, schema=table.schema), "next.duckdb")
    (tmp_path / "next.duckdb").replace(tmp_path / "w.duckdb")
    assert lookup(code)["revenue"] == Decimal("123.45")
    lookup.close()


def test_invalid_rows_are_reported_not_silently_used(tmp_path: Path) -> None:
    rows = generate_enterprises(50, reference=AS_OF).to_pylist()
    rows[0]["scale"] = "超大型"
    rows[1]["revenue"] = Decimal("-1.00")
    rows[2]["credit_code"] = rows[3]["credit_code"]
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("rows_in", pa.Table.from_pylist(rows, schema=generate_enterprises(1).schema))
        con.execute("CREATE TABLE enterprise AS SELECT * FROM rows_in")
    run = run_matching(f"duckdb://{path}", POLICIES, AS_OF, results_dir=tmp_path / "r")
    assert "1 行企业规模取值不在 大型、中型、小型、微型 中" in run.data_problems
    assert "1 行统一社会信用代码重复" in run.data_problems
    assert "1 行营业收入为负数" in run.data_problems


def test_counts_straight_from_the_entity_table_equal_the_counts_of_a_run(tmp_path: Path) -> None:
    table = generate_enterprises(2000, seed=9, reference=AS_OF)
    run = run_matching(warehouse(tmp_path, table), POLICIES, AS_OF, results_dir=tmp_path / "r")
    con = connect("duckdb://")
    direct = policy_counts(POLICIES, con.create_table("enterprise", table), AS_OF)
    assert [
        (
            r["policy_id"],
            r["eligible"],
            r["needs_information"],
            r["ineligible"],
            r["near_miss"],
            r["total_amount"] or 0,
        )
        for r in direct.to_pyarrow().to_pylist()
    ] == [
        (c.policy_id, c.eligible, c.needs_information, c.ineligible, c.near_miss, c.total_amount)
        for c in sorted(run.policies, key=lambda c: c.policy_id)
    ]
    # and the stored rows are the compiled outcomes minus the ineligible that are neither close
    # (差一项 at ≥ 50%) nor waiting for a date (即将符合)
    full = con.to_pyarrow(evaluations(POLICIES, con.table("enterprise"), AS_OF)[1]).to_pylist()
    kept = {
        (r["entity_id"], r["status"], r["amount"])
        for r in full
        if r["n_failed"] == 0
        or (r["closeness"] is not None and r["closeness"] >= Decimal("0.5"))
        or r["holds_on"] is not None
    }
    with open_results(tmp_path / "r") as results:
        pid = full[0]["policy_id"]
        stored = results.rows(pid, limit=10_000)
    assert {(r.entity_id, r.status, r.amount) for r in stored} == kept


def test_an_amount_too_large_for_the_engine_stops_the_run_and_names_the_policy(
    tmp_path: Path,
) -> None:
    rows = generate_enterprises(5, reference=AS_OF).to_pylist()
    rows[0]["revenue_prev"] = Decimal("9000000000000000.00")  # × 115% needs 16 whole digits
    url = warehouse(tmp_path, pa.Table.from_pylist(rows, schema=generate_enterprises(1).schema))
    policy = load_policies([demo_policies_dir()]).by_id("above-scale-growth-award")
    with pytest.raises(MatchFailed, match=r"above-scale-growth-award.*(?i:out of range|overflow)"):
        run_matching(url, [policy], AS_OF, results_dir=tmp_path / "r")
    assert list_runs(tmp_path / "r") == []  # nothing half-written is left or published
    assert not list((tmp_path / "r" / "runs").iterdir())


def test_reading_before_any_run_and_asking_for_a_missing_policy_are_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="尚未运行批量匹配"):
        open_results(tmp_path / "r")
    url = warehouse(tmp_path, generate_enterprises(20, reference=AS_OF))
    run_matching(url, POLICIES, AS_OF, results_dir=tmp_path / "r")
    with open_results(tmp_path / "r") as results, pytest.raises(NotFound, match="没有政策 nope"):
        results.near_misses("nope")


def test_a_missing_warehouse_or_table_is_an_error_not_an_empty_run(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="找不到数据仓库文件"):
        run_matching(f"duckdb://{tmp_path}/none.duckdb", POLICIES, AS_OF, results_dir=tmp_path)
    url = warehouse(tmp_path, generate_enterprises(5, reference=AS_OF))
    with pytest.raises(NotFound, match="没有主体表 person"):
        run_matching(url, POLICIES, AS_OF, results_dir=tmp_path / "r", table="person")


def test_only_the_newest_runs_are_kept(tmp_path: Path) -> None:
    url = warehouse(tmp_path, generate_enterprises(30, reference=AS_OF))
    made = [
        run_matching(url, POLICIES, AS_OF, results_dir=tmp_path / "r", keep=2).run_id
        for _ in range(4)
    ]
    assert [r.run_id for r in list_runs(tmp_path / "r")] == made[:-4:-1]  # two kept + the new one


def test_an_engine_that_dies_does_not_hide_why_the_run_failed(tmp_path: Path, monkeypatch) -> None:
    """A Spark JVM that exits mid-run also fails to close; the error users see is the run's own."""
    from zhixiang.matching import _batch

    url = warehouse(tmp_path, generate_enterprises(50, reference=AS_OF))

    def dies(*_: object, **__: object) -> None:
        raise RuntimeError("政策 export-award 在 spark 上运行失败: JVM 已退出")

    def cannot_close(self: object) -> None:
        raise ConnectionRefusedError("the engine is gone")

    monkeypatch.setattr(_batch, "_run", dies)
    monkeypatch.setattr(_batch.DuckEngine, "close", cannot_close)
    with pytest.raises(RuntimeError, match="export-award"):
        run_matching(url, POLICIES, AS_OF, results_dir=tmp_path / "r")
    assert not any((tmp_path / "r" / "runs").glob("*"))  # no half run left behind
