"""Batch matching: run every policy over every entity on the chosen engine and keep the results.

The engine is whatever Ibis connects to (DuckDB file by default, PostgreSQL in production); the
policies arrive compiled and do not know which one it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from zhixiang.catalog import load_catalog
from zhixiang.rules import Policy, compile_counts, compile_policy

MATCHES = "matches"
SUMMARY = "match_summary"


def connect(url: str) -> BaseBackend:
    """Connect to an engine by URL: duckdb:///path/file.duckdb, duckdb:// (memory), postgres://…"""
    if url.startswith("duckdb://"):
        path = url.removeprefix("duckdb://")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            return ibis.duckdb.connect(path)
        return ibis.duckdb.connect()
    return ibis.connect(url)


@dataclass(frozen=True)
class PolicyCounts:
    policy_id: str
    title: str
    eligible: int
    needs_information: int
    ineligible: int
    near_miss: int
    total_amount: Decimal


@dataclass
class MatchRun:
    """What a batch run did: when, for which date, over how many entities, with which outcome."""

    run_id: str
    as_of: date
    entities: int
    policies: list[PolicyCounts] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # policies not in force on as_of
    data_problems: list[str] = field(default_factory=list)
    parquet: Path | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, default=str, indent=2)


def evaluations(
    policies: Sequence[Policy], table: ir.Table, as_of: date, *, with_ids: bool = True
) -> list[ir.Table]:
    """One compiled result table per policy in force on `as_of` (nothing is executed here)."""
    key = load_catalog(policies[0].entity).key if policies else "id"
    return [
        compile_policy(p, table, as_of, key=key, with_ids=with_ids)
        for p in policies
        if p.in_force(as_of)
    ]


def data_problems(table: ir.Table, entity: str = "enterprise") -> list[str]:
    """Rows whose values the catalog does not allow: reported before matching, never silently used."""
    catalog = load_catalog(entity)
    checks: dict[str, tuple[str, ir.BooleanValue]] = {}
    key = table[catalog.key]
    checks["key_missing"] = (f"{catalog[catalog.key].label}为空", key.isnull())
    for f in catalog.fields:
        if f.name not in table.columns:
            continue
        column = table[f.name]
        if f.values:
            checks[f"bad_{f.name}"] = (
                f"{f.label}取值不在 {'、'.join(f.values)} 中",
                column.notnull() & column.notin(list(f.values)),
            )
        elif f.type.value in ("money", "integer"):
            checks[f"neg_{f.name}"] = (f"{f.label}为负数", column < 0)
    counts = (
        table.aggregate(
            rows=table.count(),
            distinct_keys=key.nunique(),
            **{name: flag.ifelse(1, 0).sum() for name, (_, flag) in checks.items()},
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    problems = [
        f"{counts[name]:,} 行{label}" for name, (label, _) in checks.items() if counts[name]
    ]
    non_null_keys = counts["rows"] - counts["key_missing"]
    if counts["distinct_keys"] < non_null_keys:
        problems.append(
            f"{non_null_keys - counts['distinct_keys']:,} 行{catalog[catalog.key].label}重复"
        )
    return problems


def policy_counts(policies: Sequence[Policy], table: ir.Table, as_of: date) -> ir.Table:
    """Per-policy counts straight from the entity table, for when only the numbers are wanted."""
    in_force = [p for p in policies if p.in_force(as_of)]
    key = load_catalog(in_force[0].entity).key if in_force else "id"
    return ibis.union(*(compile_counts(p, table, as_of, key=key) for p in in_force)).order_by(
        "policy_id"
    )


def summarize(results: ir.Table) -> ir.Table:
    """Per-policy counts from a results table; near-misses failed exactly one condition."""
    status = results.status
    return (
        results.group_by("policy_id")
        .aggregate(
            eligible=(status == "eligible").sum(),
            needs_information=(status == "needs_information").sum(),
            ineligible=(status == "ineligible").sum(),
            near_miss=(results.n_failed == 1).sum(),
            total_amount=results.amount.sum(),
        )
        .order_by("policy_id")
    )


def run_matching(
    con: BaseBackend,
    policies: Sequence[Policy],
    as_of: date,
    *,
    entity_table: str | ir.Table = "enterprise",
    results_dir: Path | None = None,
    progress: Callable[[Policy], None] | None = None,
) -> MatchRun:
    """Evaluate `policies` over the entity table, store the results in the engine and as Parquet."""
    table = con.table(entity_table) if isinstance(entity_table, str) else entity_table
    run_id = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    in_force = [p for p in policies if p.in_force(as_of)]
    run = MatchRun(run_id, as_of, int(table.count().execute()))
    run.skipped = [p.id for p in policies if not p.in_force(as_of)]
    if policies:
        run.data_problems = data_problems(table, policies[0].entity)
    created = False
    for policy, expr in zip(in_force, evaluations(in_force, table, as_of), strict=True):
        if created:
            con.insert(MATCHES, expr)
        else:
            con.create_table(MATCHES, expr, overwrite=True)
            created = True
        if progress:
            progress(policy)
    if not created:
        return run
    matches = con.table(MATCHES)
    summary = con.create_table(SUMMARY, summarize(matches), overwrite=True).to_pyarrow().to_pylist()
    titles = {p.id: p.title for p in in_force}
    run.policies = [
        PolicyCounts(
            policy_id=row["policy_id"],
            title=titles[row["policy_id"]],
            eligible=int(row["eligible"] or 0),
            needs_information=int(row["needs_information"] or 0),
            ineligible=int(row["ineligible"] or 0),
            near_miss=int(row["near_miss"] or 0),
            total_amount=Decimal(row["total_amount"] or 0),
        )
        for row in summary
    ]
    if results_dir is not None:
        out = results_dir / run_id
        out.mkdir(parents=True, exist_ok=True)
        run.parquet = out / "matches.parquet"
        con.to_parquet(matches, run.parquet)
        (out / "summary.json").write_text(run.to_json(), "utf-8")
    return run


def near_misses(con: BaseBackend, policy_id: str | None = None, limit: int = 20) -> list[dict]:
    """Entities that failed exactly one condition, with that condition: who to tell what is missing."""
    matches = con.table(MATCHES)
    rows = matches.filter(matches.n_failed == 1)
    if policy_id:
        rows = rows.filter(rows.policy_id == policy_id)
    return (
        rows.select("entity_id", "policy_id", "failed", "unknown")
        .limit(limit)
        .to_pyarrow()
        .to_pylist()
    )
