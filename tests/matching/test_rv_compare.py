"""Reforms: two versions of a policy over the same warehouse — who gains, who loses, what it costs."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from zhixiang.catalog import load_catalog
from zhixiang.cli import app
from zhixiang.demo import demo_policies_dir, generate_enterprises
from zhixiang.errors import InvalidInput
from zhixiang.matching import compare_policies, facts_from_row
from zhixiang.rules import evaluate_policy, load_policies

AS_OF = date(2026, 6, 30)
OLD = demo_policies_dir() / "tax-contribution-award.yaml"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[dict]]:
    table = generate_enterprises(3000, seed=21, reference=AS_OF)
    path = tmp_path_factory.mktemp("compare") / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("rows_in", table)
        con.execute("CREATE TABLE enterprise AS SELECT * FROM rows_in")
    return f"duckdb://{path}", table.to_pylist()


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = OLD.read_text("utf-8")
    assert old in text
    path = tmp_path / "new.yaml"
    path.write_text(text.replace(old, new).replace("纳税3000万元", "纳税3000万元（新）"), "utf-8")
    return path


def _expected(rows: list[dict], old, new) -> tuple[Counter, Decimal]:
    """The same comparison one entity at a time with the calculator."""
    catalog = load_catalog("enterprise")
    changes: Counter = Counter()
    cost = Decimal(0)
    for row in rows:
        facts = facts_from_row(catalog, row)
        a, b = evaluate_policy(old, facts, AS_OF), evaluate_policy(new, facts, AS_OF)
        ok_a, ok_b = a.status == "eligible", b.status == "eligible"
        cost += (b.amount or 0 if ok_b else 0) - (a.amount or 0 if ok_a else 0)
        if ok_b and not ok_a:
            changes["newly_eligible"] += 1
        elif ok_a and not ok_b:
            changes["no_longer_eligible"] += 1
        elif ok_a and ok_b:
            delta = (b.amount or 0) - (a.amount or 0)
            changes["amount_up" if delta > 0 else "amount_down" if delta < 0 else "unchanged"] += 1
    return changes, cost


def test_a_raised_threshold_loses_entities_and_saves_their_amounts(warehouse, tmp_path) -> None:
    url, rows = warehouse
    old = load_policies([OLD]).policies[0]
    new = load_policies(
        [_variant(tmp_path, "纳税总额 >= 1000万元", "纳税总额 >= 2000万元")]
    ).policies[0]
    result = compare_policies(url, old, new, AS_OF)
    changes, cost = _expected(rows, old, new)
    got = {k: g.count for k, g in result.changes.items()}
    assert got == dict(changes)
    assert changes["no_longer_eligible"] > 0 and "newly_eligible" not in got
    assert result.cost_change == cost < 0
    assert result.new_eligible == result.old_eligible - changes["no_longer_eligible"]
    # the parts add up to the whole, by district and by industry
    for parts in (result.by_district, result.by_industry):
        lost = sum(
            p["no_longer_eligible"].count for p in parts.values() if "no_longer_eligible" in p
        )
        assert lost == changes["no_longer_eligible"]
        assert sum(g.cost_change for p in parts.values() for g in p.values()) == cost
    chart = result.to_dict()
    json.dumps(chart)  # chart-ready: plain JSON
    districts = chart["by_district"]
    assert "思明区" in districts["categories"]
    assert {s["key"] for s in districts["series"]} == {
        "newly_eligible",
        "no_longer_eligible",
        "amount_up",
        "amount_down",
        "unchanged",
    }
    assert all(len(s["data"]) == len(districts["categories"]) for s in districts["series"])
    lost = next(c for c in chart["changes"] if c["key"] == "no_longer_eligible")
    assert lost["examples"] and len(lost["examples"]) <= 20


def test_a_raised_cap_raises_amounts_only(warehouse, tmp_path) -> None:
    url, rows = warehouse
    old = load_policies([OLD]).policies[0]
    new = load_policies([_variant(tmp_path, "cap: 200万元", "cap: 300万元")]).policies[0]
    result = compare_policies(url, old, new, AS_OF)
    changes, cost = _expected(rows, old, new)
    assert {k: g.count for k, g in result.changes.items()} == dict(changes)
    assert set(changes) <= {"amount_up", "unchanged"} and result.cost_change == cost >= 0


def test_a_version_out_of_force_is_refused_by_name(warehouse, tmp_path) -> None:
    url, _ = warehouse
    old = load_policies([OLD]).policies[0]
    new = dataclasses.replace(old, valid_from=date(2027, 1, 1))
    with pytest.raises(InvalidInput, match=r"新版本.*不在有效期内"):
        compare_policies(url, old, new, AS_OF)


def test_the_command_prints_the_changes_and_json(warehouse, tmp_path, home) -> None:
    url, _ = warehouse
    new = _variant(tmp_path, "纳税总额 >= 1000万元", "纳税总额 >= 2000万元")
    runner = CliRunner()
    shown = runner.invoke(
        app,
        ["policies", "compare", str(OLD), str(new), "--as-of", "2026-06-30", "--warehouse", url],
    )
    assert shown.exit_code == 0, shown.output
    assert "不再符合" in shown.output and "按区县" in shown.output and "按行业门类" in shown.output
    # Raising the threshold makes nobody newly eligible: that row's money is 0元 like every other.
    assert re.search(r"新增符合\s*│\s*0\s*│\s*0元", shown.output), shown.output
    as_json = runner.invoke(
        app,
        [
            "policies",
            "compare",
            str(OLD),
            str(new),
            "--as-of",
            "2026-06-30",
            "--warehouse",
            url,
            "--json",
        ],
    )
    assert as_json.exit_code == 0 and json.loads(as_json.output)["cost"]["change"].startswith("-")
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\n", "utf-8")
    refused = runner.invoke(app, ["policies", "compare", str(OLD), str(broken), "--warehouse", url])
    assert refused.exit_code == 1 and "未通过检查" in refused.output
