"""The batch engine (SQL through Ibis) and the calculator (Python decimals) must agree on every entity."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import ibis
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhixiang.catalog import FieldType, load_catalog
from zhixiang.demo import demo_policies_dir, generate_enterprises
from zhixiang.matching import evaluations, facts_from_row
from zhixiang.rules import compile_gaps, evaluate_policy, load_policies

CATALOG = load_catalog("enterprise")
POLICIES = load_policies([demo_policies_dir()]).policies
AS_OF = date(2026, 6, 30)

# Values cluster around the demo policies' thresholds, where rounding or logic slips would show.
_money = st.one_of(
    st.none(),
    st.sampled_from([0, 1, 4_999_999.99, 5_000_000, 10_000_000, 20_000_000, 23_000_000, 1e8]).map(
        lambda v: Decimal(str(v)).quantize(Decimal("0.01"))
    ),
    st.decimals(min_value=0, max_value=10**10, places=2, allow_nan=False, allow_infinity=False),
)
_ratio = st.one_of(
    st.none(),
    st.sampled_from(["0", "0.02", "0.029999", "0.03", "0.2"]).map(Decimal),
    st.decimals(min_value=0, max_value=1, places=6, allow_nan=False, allow_infinity=False),
)
_date = st.one_of(
    st.none(),
    st.dates(date(1990, 1, 1), date(2026, 12, 31)),
    st.just(AS_OF - timedelta(days=365)),
    st.dates(AS_OF - timedelta(days=800), AS_OF),  # around the 1-, 2- and 3-year anniversaries
    st.sampled_from([date(2024, 2, 29), date(2025, 6, 30), date(2025, 7, 1), date(2025, 1, 31)]),
)
STRATEGIES = {
    FieldType.MONEY: _money,
    FieldType.RATIO: _ratio,
    FieldType.INTEGER: st.one_of(st.none(), st.integers(0, 60)),
    FieldType.BOOL: st.one_of(st.none(), st.booleans()),
    FieldType.DATE: _date,
    FieldType.REGION: st.one_of(
        st.none(), st.sampled_from(["350203", "350211", "350102", "350211001"])
    ),
}


def _field_strategy(field):
    if field.name == "credit_code":
        return st.none()  # filled in with a row number below
    if field.values:
        return st.one_of(st.none(), st.sampled_from(field.values))
    if field.name == "industry_code":
        return st.one_of(st.none(), st.sampled_from(["C38", "C39", "F51", "I65"]))
    return STRATEGIES.get(field.type, st.none())


entity = st.fixed_dictionaries({f.name: _field_strategy(f) for f in CATALOG.fields})


_SQL: dict[int, str] = {}


def _check_agreement(rows: list[dict], con) -> None:
    schema = CATALOG.arrow_schema()
    table = con.create_table(
        "enterprise", pa.Table.from_pylist(rows, schema=schema), overwrite=True
    )
    # Compiling 14 policies costs more than running them: compile once per connection, reuse the SQL.
    if id(con) not in _SQL:
        _SQL[id(con)] = ibis.to_sql(
            ibis.union(*evaluations(POLICIES, table, AS_OF)), dialect="duckdb"
        )
    result = con.raw_sql(_SQL[id(con)]).arrow().read_all()
    batch = {(r["entity_id"], r["policy_id"]): r for r in result.to_pylist()}
    for row in rows:
        facts = facts_from_row(CATALOG, row)
        for policy in POLICIES:
            verdict = evaluate_policy(policy, facts, AS_OF)
            got = batch[(row["credit_code"], policy.id)]
            assert (got["status"], got["amount"]) == (verdict.status, verdict.amount), (
                policy.id,
                row,
            )
            assert sorted(got["failed"]) == sorted(verdict.failed), (policy.id, row)
            assert sorted(got["unknown"]) == sorted(verdict.unknown), (policy.id, row)
            assert got["n_failed"] == len(verdict.failed)
            # the outreach gap of the row: closeness (差一项) and the day it qualifies (即将符合)
            assert got["closeness"] == verdict.closeness, (policy.id, row, "closeness")
            assert got["holds_on"] == verdict.holds_on, (policy.id, row, "holds_on")
    _check_condition_gaps(rows, con, table)


_GAP_SQL: dict[tuple[int, str], str] = {}


def _check_condition_gaps(rows: list[dict], con, table) -> None:
    """Each condition's gap — closeness and shortfall of a threshold, the day a date holds — agrees."""
    for policy in POLICIES:
        key = (id(con), policy.id)
        if key not in _GAP_SQL:
            expr = compile_gaps(policy, table, AS_OF, key="credit_code")
            _GAP_SQL[key] = ibis.to_sql(expr, dialect="duckdb")
        got = {r["entity_id"]: r for r in con.raw_sql(_GAP_SQL[key]).arrow().read_all().to_pylist()}
        for row in rows:
            verdict = evaluate_policy(policy, facts_from_row(CATALOG, row), AS_OF, explain=True)
            batch = got[row["credit_code"]]
            for outcome in verdict.conditions:
                gap = outcome.gap
                assert gap is not None
                where = (policy.id, outcome.id, row)
                if f"closeness_{outcome.id}" in batch:
                    expected = gap.closeness if outcome.result is False else None
                    assert batch[f"closeness_{outcome.id}"] == expected, where
                    shortfall = gap.shortfall if outcome.result is False else None
                    assert batch[f"shortfall_{outcome.id}"] == shortfall, where
                if f"holds_on_{outcome.id}" in batch:
                    assert batch[f"holds_on_{outcome.id}"] == gap.holds_on, where


@pytest.fixture(scope="module")
def duckdb_con():
    return ibis.duckdb.connect()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(entity, min_size=1, max_size=25))
def test_batch_and_calculator_agree_on_random_entities(duckdb_con, entities: list[dict]) -> None:
    rows = [dict(e, credit_code=f"E{i:04d}") for i, e in enumerate(entities)]
    _check_agreement(rows, duckdb_con)


def test_batch_and_calculator_agree_on_generated_enterprises(duckdb_con) -> None:
    rows = generate_enterprises(3000, seed=7, reference=AS_OF).to_pylist()
    _check_agreement(rows, duckdb_con)


@pytest.mark.postgres
def test_postgresql_gives_the_same_results_as_duckdb(postgres_url: str) -> None:
    rows = generate_enterprises(2000, seed=11, reference=AS_OF)
    duck = ibis.duckdb.connect()
    pg = ibis.connect(postgres_url)
    name = f"enterprise_agreement_{id(rows)}"
    pg.create_table(name, rows, overwrite=True)
    try:

        def outcomes(con, table) -> set[tuple]:
            found = set()
            for expr in evaluations(POLICIES, table, AS_OF):
                for r in con.to_pyarrow(expr).to_pylist():
                    found.add(
                        (
                            r["entity_id"],
                            r["policy_id"],
                            r["status"],
                            r["amount"],
                            tuple(sorted(r["failed"])),
                            tuple(sorted(r["unknown"])),
                            r["closeness"],
                            r["holds_on"],
                        )
                    )
            return found

        in_duckdb = outcomes(duck, duck.create_table("enterprise", rows))
        in_postgres = outcomes(pg, pg.table(name))
        assert len(in_duckdb) == 2000 * len(POLICIES)
        assert in_postgres == in_duckdb
    finally:
        pg.drop_table(name, force=True)
