"""An incremental run (only changed entities and policies evaluated) gives exactly a full run's answer."""

from __future__ import annotations

import random
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from zhixiang.demo import demo_policies_dir, generate_enterprises
from zhixiang.matching import open_results, run_matching
from zhixiang.rules import load_policies, parse_policy

AS_OF = date(2026, 6, 30)
POLICIES = load_policies([demo_policies_dir()]).policies


def _write(path: Path, rows: list[dict], schema: pa.Schema) -> str:
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        con.register("rows_in", pa.Table.from_pylist(rows, schema=schema))
        con.execute("CREATE TABLE enterprise AS SELECT * FROM rows_in")
    return f"duckdb://{path}"


def _perturb(rows: list[dict], rng: random.Random, share: float) -> tuple[list[dict], set[str]]:
    """Change facts of a share of the rows (towards and across thresholds, to and from unknown)."""
    touched: set[str] = set()
    out = []
    for row in rows:
        before, row = row, dict(row)
        if rng.random() < share:
            field = rng.choice(["revenue", "high_tech", "tax_credit_rating", "employees", "scale"])
            if field == "revenue":
                row["revenue"] = (
                    None
                    if rng.random() < 0.2
                    else Decimal(rng.choice([0, 5_000_000, 20_000_000, 60_000_000])).quantize(
                        Decimal("0.01")
                    )
                )
            elif field == "high_tech":
                row["high_tech"] = rng.choice([True, False, None])
            elif field == "tax_credit_rating":
                row["tax_credit_rating"] = rng.choice(["A", "B", "C", None])
            elif field == "employees":
                row["employees"] = rng.choice([0, 2, 3, 50, None])
            else:
                row["scale"] = rng.choice(["大型", "小型", "微型", None])
            if row != before:
                touched.add(row["credit_code"])
        out.append(row)
    return out, touched


def _decoded(results_dir: Path) -> dict[str, set[tuple]]:
    with open_results(results_dir) as results:
        return {
            c.policy_id: {
                (r.entity_id, r.status, r.failed, r.unknown, r.amount, r.changed)
                for r in results.rows(c.policy_id, limit=10_000)
            }
            | {
                (
                    "counts",
                    c.eligible,
                    c.needs_information,
                    c.ineligible,
                    c.near_miss,
                    c.total_amount,
                )
            }
            for c in results.run.policies
        }


def _stricter(policy_id: str) -> list:
    """The demo policies with one of them made stricter: a new version of that policy."""
    changed = []
    for p in POLICIES:
        if p.id == policy_id:
            text = p.path.read_text("utf-8").replace("500万元", "800万元")
            p = parse_policy(text, p.path)
        changed.append(p)
    return changed


SCENARIOS = {
    "few facts changed, same rows": dict(share=0.05, shuffle=False, churn=0, policy=None, days=0),
    "rows reordered, removed and added": dict(
        share=0.1, shuffle=True, churn=40, policy=None, days=0
    ),
    "a policy changed and a later date": dict(
        share=0.05, shuffle=True, churn=10, policy="export-award", days=200
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_incremental_run_equals_full_run(tmp_path: Path, scenario: str) -> None:
    s = SCENARIOS[scenario]
    rng = random.Random(scenario)
    base = generate_enterprises(1500, seed=4, reference=AS_OF)
    schema = base.schema
    rows = base.to_pylist()
    url = _write(tmp_path / "w.duckdb", rows, schema)
    first = tmp_path / "first"
    run_matching(url, POLICIES, AS_OF, results_dir=first)

    rows, touched = _perturb(rows, rng, s["share"])
    added: set[str] = set()
    if s["churn"]:
        removed = set(rng.sample(range(len(rows)), s["churn"]))
        rows = [r for i, r in enumerate(rows) if i not in removed]
        new = generate_enterprises(s["churn"], seed=99, reference=AS_OF).to_pylist()
        added = {r["credit_code"] for r in new}
        rows += new
    if s["shuffle"]:
        rng.shuffle(rows)
    url = _write(tmp_path / "w.duckdb", rows, schema)
    policies = _stricter(s["policy"]) if s["policy"] else POLICIES
    as_of = AS_OF + timedelta(days=s["days"])

    incremental, full = tmp_path / "incremental", tmp_path / "full"
    shutil.copytree(first, incremental)
    shutil.copytree(first, full)
    inc_run = run_matching(url, policies, as_of, results_dir=incremental)
    full_run = run_matching(url, policies, as_of, results_dir=full, full=True)

    assert inc_run.mode == "incremental" and full_run.mode == "full"
    assert inc_run.changed_entities is not None
    assert len(touched) <= inc_run.changed_entities < len(rows)
    reused = {c.policy_id for c in inc_run.policies if c.reused}
    assert reused, "an unchanged policy must reuse the previous rows"
    if s["policy"]:
        assert s["policy"] not in reused
    if s["days"]:  # policies that read today() are new versions on another date
        assert "startup-employment-subsidy" not in reused
    assert _decoded(incremental) == _decoded(full)

    # From scratch (no previous run): the same outcomes and counts; only the rows kept because
    # they changed (ineligible and not close now, kept before) are not there.
    scratch = tmp_path / "scratch"
    run_matching(url, policies, as_of, results_dir=scratch)
    from_scratch, from_full = _decoded(scratch), _decoded(full)
    assert from_scratch.keys() == from_full.keys()
    for pid, rows_full in from_full.items():
        counts = {r for r in rows_full if r[0] == "counts"}
        assert counts == {r for r in from_scratch[pid] if r[0] == "counts"}, pid
        outcome_full = {r[:5]: r for r in rows_full if r[0] != "counts"}
        outcome_scratch = {r[:5] for r in from_scratch[pid] if r[0] != "counts"}
        assert outcome_scratch <= outcome_full.keys(), pid
        only_full = [outcome_full[k] for k in outcome_full.keys() - outcome_scratch]
        assert all(r[1] == "ineligible" and r[5] for r in only_full), pid

    with open_results(full) as results:  # an entity whose facts did not change did not change
        untouched = {r["credit_code"] for r in rows} - touched - added
        for counts in results.run.policies:
            if counts.policy_id == s["policy"]:
                continue
            for row in results.rows(counts.policy_id, "changed", limit=10_000):
                assert row.entity_id not in untouched or s["days"]
