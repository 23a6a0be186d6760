from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow.parquet as pq

from zhixiang.demo import demo_policies_dir, generate_enterprises
from zhixiang.matching import Calculator, connect, near_misses, policy_counts, run_matching
from zhixiang.rules import load_policies

AS_OF = date(2026, 6, 30)


def test_a_run_stores_results_in_the_engine_and_as_parquet(tmp_path: Path) -> None:
    con = connect(f"duckdb://{tmp_path / 'w.duckdb'}")
    con.create_table("enterprise", generate_enterprises(3000, seed=3, reference=AS_OF))
    policies = load_policies([demo_policies_dir()]).policies
    seen: list[str] = []
    run = run_matching(
        con, policies, AS_OF, results_dir=tmp_path / "results", progress=lambda p: seen.append(p.id)
    )

    assert run.entities == 3000
    assert sorted(seen) == sorted(p.id for p in policies if p.in_force(AS_OF))
    stored = pq.read_table(run.parquet)
    assert stored.num_rows == 3000 * len(seen)
    for counts in run.policies:
        assert counts.eligible + counts.needs_information + counts.ineligible == 3000
    total_eligible = sum(c.eligible for c in run.policies)
    assert total_eligible == sum(1 for s in stored["status"].to_pylist() if s == "eligible")
    assert any(c.eligible for c in run.policies) and any(c.needs_information for c in run.policies)

    misses = near_misses(con, limit=50)
    assert misses and all(len(m["failed"]) == 1 for m in misses)


def test_policies_out_of_force_are_skipped(tmp_path: Path) -> None:
    con = connect("duckdb://")
    con.create_table("enterprise", generate_enterprises(100, reference=AS_OF))
    policies = load_policies([demo_policies_dir()]).policies
    run = run_matching(con, policies, date(2027, 6, 30))
    assert "graduate-hiring-subsidy" in run.skipped  # valid until 2026-12-31
    assert "graduate-hiring-subsidy" not in {c.policy_id for c in run.policies}


def test_calculator_explains_actual_values_and_missing_facts() -> None:
    con = connect("duckdb://")
    table = generate_enterprises(500, seed=5, reference=AS_OF)
    con.create_table("enterprise", table)
    calculator = Calculator(load_policies([demo_policies_dir()]).policies, con.table("enterprise"))
    code = table["credit_code"][0].as_py()
    report = calculator.explain(code, AS_OF)
    assert report is not None and report.entity_id == code
    assert len(report.verdicts) == 14
    data = report.to_dict()
    rd = next(p for p in data["policies"] if p["policy_id"] == "rd-expense-subsidy")
    threshold = rd["conditions"][0]["comparisons"][0]
    assert threshold["threshold"] == "100万元" and threshold["op"] == "≥"
    assert calculator.explain("91350211MA00000000", AS_OF) is None

    unknown = calculator.evaluate({"high_tech": True}, AS_OF)
    first = next(v for p, v in unknown.verdicts if p.id == "hightech-first-award")
    assert first.status == "needs_information"
    assert {f.label for o in first.conditions for f in o.missing} == {
        "高企认定日期",
        "注册地",
        "严重违法失信",
    }


def test_invalid_rows_are_reported_not_silently_used() -> None:
    from decimal import Decimal

    import pyarrow as pa

    rows = generate_enterprises(50, reference=AS_OF).to_pylist()
    rows[0]["scale"] = "超大型"
    rows[1]["revenue"] = Decimal("-1.00")
    rows[2]["credit_code"] = rows[3]["credit_code"]
    con = connect("duckdb://")
    con.create_table(
        "enterprise", pa.Table.from_pylist(rows, schema=generate_enterprises(1).schema)
    )
    run = run_matching(con, load_policies([demo_policies_dir()]).policies, AS_OF)
    assert "1 行企业规模取值不在 大型、中型、小型、微型 中" in run.data_problems
    assert "1 行统一社会信用代码重复" in run.data_problems
    assert "1 行营业收入为负数" in run.data_problems


def test_counts_straight_from_the_entity_table_equal_the_summary_of_stored_results() -> None:
    con = connect("duckdb://")
    con.create_table("enterprise", generate_enterprises(2000, seed=9, reference=AS_OF))
    policies = load_policies([demo_policies_dir()]).policies
    run = run_matching(con, policies, AS_OF)
    direct = policy_counts(policies, con.table("enterprise"), AS_OF).to_pyarrow().to_pylist()
    assert [
        (
            r["policy_id"],
            r["eligible"],
            r["needs_information"],
            r["ineligible"],
            r["near_miss"],
            r["total_amount"] or 0,
        )
        for r in direct
    ] == [
        (c.policy_id, c.eligible, c.needs_information, c.ineligible, c.near_miss, c.total_amount)
        for c in run.policies
    ]


def test_an_amount_too_large_for_the_engine_stops_the_run_instead_of_rounding() -> None:
    from decimal import Decimal

    import pyarrow as pa
    import pytest

    rows = generate_enterprises(5, reference=AS_OF).to_pylist()
    rows[0]["revenue_prev"] = Decimal(
        "9000000000000000.00"
    )  # 9e15 元: × 115% needs 16 whole digits
    con = connect("duckdb://")
    con.create_table(
        "enterprise", pa.Table.from_pylist(rows, schema=generate_enterprises(1).schema)
    )
    policy = load_policies([demo_policies_dir()]).by_id("above-scale-growth-award")
    with pytest.raises(Exception, match=r"(?i)out of range|overflow"):
        run_matching(con, [policy], AS_OF)
