"""Policies over an Ibis table on any engine Ibis reaches, and the checks run before matching.

The batch run (`_batch`) writes results itself; what is here serves tests, benchmarks and anyone who
wants the compiled outcomes as Ibis expressions: the PostgreSQL-vs-DuckDB agreement test uses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from zhixiang.catalog import load_catalog
from zhixiang.rules import Policy, compile_counts, compile_policy


def connect(url: str) -> BaseBackend:
    """Connect to an engine by URL: duckdb:///path/file.duckdb, duckdb:// (memory), postgres://…"""
    if url.startswith("duckdb://"):
        path = url.removeprefix("duckdb://")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            return ibis.duckdb.connect(path)
        return ibis.duckdb.connect()
    return ibis.connect(url)


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


def _checks(table: ir.Table, entity: str) -> dict[str, tuple[str, ir.BooleanValue]]:
    catalog = load_catalog(entity)
    key = table[catalog.key]
    checks: dict[str, tuple[str, ir.BooleanValue]] = {
        "key_missing": (f"{catalog[catalog.key].label}为空", key.isnull())
    }
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
    return checks


def data_problem_counts(table: ir.Table, entity: str = "enterprise") -> ir.Table:
    """One row: how many rows, and how many break each rule of the catalog (and duplicate keys)."""
    key = table[load_catalog(entity).key]
    counts = table.aggregate(
        rows=table.count(),
        distinct_keys=key.nunique(),
        **{name: flag.ifelse(1, 0).sum() for name, (_, flag) in _checks(table, entity).items()},
    )
    return counts.mutate(
        duplicate_keys=counts.rows - counts.key_missing.fill_null(0) - counts.distinct_keys
    )


def describe_problems(counts: Mapping[str, object], entity: str = "enterprise") -> list[str]:
    """The counts of `data_problem_counts` as sentences an officer can act on."""
    catalog = load_catalog(entity)
    schema = ibis.table(ibis.Schema.from_pyarrow(catalog.arrow_schema()))
    problems = [
        f"{counts[name]:,} 行{label}"
        for name, (label, _) in _checks(schema, entity).items()
        if counts.get(name)
    ]
    if counts.get("duplicate_keys"):
        problems.append(f"{counts['duplicate_keys']:,} 行{catalog[catalog.key].label}重复")
    return problems


def data_problems(table: ir.Table, entity: str = "enterprise") -> list[str]:
    """Rows whose values the catalog does not allow: reported before matching, never silently used."""
    return describe_problems(data_problem_counts(table, entity).to_pyarrow().to_pylist()[0], entity)


def policy_counts(policies: Sequence[Policy], table: ir.Table, as_of: date) -> ir.Table:
    """Per-policy counts straight from the entity table, for when only the numbers are wanted."""
    in_force = [p for p in policies if p.in_force(as_of)]
    key = load_catalog(in_force[0].entity).key if in_force else "id"
    return ibis.union(*(compile_counts(p, table, as_of, key=key) for p in in_force)).order_by(
        "policy_id"
    )
