"""Household policies: the batch engine (one GROUP BY in SQL) and the one-household calculator agree
on every household and every person, on DuckDB and on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from rr_households import ANY_EXAMPLE, AS_OF, households, warehouse_tables

from zhixiang.demo import resident_policies_dir
from zhixiang.matching import HouseholdLookup, resident_evaluations
from zhixiang.rules import MEMBERS_KEY, evaluate_policy, load_policies

POLICIES = load_policies([resident_policies_dir()]).policies


def _expected(tables, as_of: date) -> dict[tuple[str, str], tuple]:
    """What the calculator says, from the drawn rows (members and house shares joined in Python)."""
    people = {p["id_number"]: p for p in tables["person"].to_pylist()}
    area = {h["house_id"]: h["area"] for h in tables["house"].to_pylist()}
    owned: dict[str, list[Decimal]] = {}
    for o in tables["house_owner"].to_pylist():
        owned.setdefault(o["id_number"], []).append(area[o["house_id"]] * o["share"])

    def person(pid: str) -> dict:
        shares = owned.get(pid, [])
        return {**people[pid], "owns_house": bool(shares), "owned_area": sum(shares, Decimal(0))}

    members: dict[str, list[dict]] = {}
    for link in tables["household_member"].to_pylist():
        members.setdefault(link["household_id"], []).append(
            {**person(link["id_number"]), "role": link["role"]}
        )
    expected = {}
    for policy in POLICIES:
        if policy.entity == "household":
            entities = [
                (h["household_id"], {**h, MEMBERS_KEY: tuple(members.get(h["household_id"], []))})
                for h in tables["household"].to_pylist()
            ]
        else:
            entities = [(pid, person(pid)) for pid in people]
        for key, facts in entities:
            v = evaluate_policy(policy, facts, as_of)
            expected[(key, policy.id)] = (v.status, v.amount, set(v.failed), set(v.unknown))
    return expected


_SQL: dict[int, str] = {}


def _outcomes(con, cached: bool = False) -> dict[tuple[str, str], tuple]:
    """The engine's outcomes; compiling 12 policies costs more than running them, so a connection
    whose tables are only refilled reuses its SQL."""
    if cached and id(con) in _SQL:
        rows = con.raw_sql(_SQL[id(con)]).arrow().read_all().to_pylist()
    else:
        expr = ibis.union(*resident_evaluations(POLICIES, con, AS_OF))
        if cached:
            _SQL[id(con)] = str(ibis.to_sql(expr, dialect="duckdb"))
        rows = expr.to_pyarrow().to_pylist()
    return {
        (r["entity_id"], r["policy_id"]): (
            r["status"],
            r["amount"],
            set(r["failed"]),
            set(r["unknown"]),
        )
        for r in rows
    }


def _load(con, tables) -> None:
    for name, table in tables.items():
        con.create_table(name, table, overwrite=True)


@pytest.fixture(scope="module")
def duck():
    return ibis.duckdb.connect()


def test_policies_load_and_cover_households_and_persons() -> None:
    assert len(POLICIES) >= 10
    assert {p.entity for p in POLICIES} == {"household", "person"}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=households)
def test_engine_agrees_with_the_calculator_on_every_household(duck, drawn) -> None:
    tables = warehouse_tables(drawn)
    _load(duck, tables)
    expected = _expected(tables, AS_OF)
    got = _outcomes(duck, cached=True)
    assert got.keys() == expected.keys()
    for key, outcome in expected.items():
        assert got[key] == outcome, key


def test_the_household_lookup_reads_what_the_engine_reads(tmp_path) -> None:
    from hypothesis import find

    drawn = find(
        households,
        lambda hs: len(hs) >= 4 and sum(len(h[2]) for h in hs) >= 2,
        settings=ANY_EXAMPLE,
    )
    tables = warehouse_tables(drawn)
    path = tmp_path / "residents.duckdb"
    con = ibis.duckdb.connect(str(path))
    _load(con, tables)
    got = _outcomes(con)
    con.disconnect()
    lookup = HouseholdLookup(f"duckdb://{path}")
    for h in tables["household"].to_pylist():
        facts = lookup(h["household_id"])
        assert facts is not None and len(facts[MEMBERS_KEY]) >= 1
        for policy in (p for p in POLICIES if p.entity == "household"):
            v = evaluate_policy(policy, facts, AS_OF)
            assert got[(h["household_id"], policy.id)][:2] == (v.status, v.amount)
    for p in tables["person"].to_pylist()[:5]:
        facts = lookup.person(p["id_number"])
        assert lookup.household_of(p["id_number"]) is not None
        for policy in (q for q in POLICIES if q.entity == "person"):
            v = evaluate_policy(policy, facts, AS_OF)
            assert got[(p["id_number"], policy.id)][:2] == (v.status, v.amount)
    assert lookup("no-such-household") is None
    lookup.close()


@pytest.mark.postgres
def test_postgresql_gives_the_same_results_as_duckdb(postgres_url: str) -> None:
    import psycopg
    from hypothesis import find

    drawn = find(
        households,
        lambda hs: len(hs) >= 6 and sum(len(h[2]) for h in hs) >= 3,
        settings=ANY_EXAMPLE,
    )
    tables = warehouse_tables(drawn)
    schema = f"rr_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        url = psycopg.conninfo.conninfo_to_dict(postgres_url)
        pg = ibis.postgres.connect(
            host=url.get("host"),
            port=int(url.get("port") or 5432),
            user=url.get("user"),
            password=url.get("password"),
            database=url.get("dbname"),
            schema=schema,
        )
        _load(pg, tables)
        duck = ibis.duckdb.connect()
        _load(duck, tables)
        in_duckdb = _outcomes(duck)
        assert _outcomes(pg) == in_duckdb
        assert in_duckdb == _expected(tables, AS_OF)
        pg.disconnect()
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
