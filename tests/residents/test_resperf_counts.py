"""Counting every resident policy in one scan: the one query per entity kind gives, policy by policy,
the counts of the one-household calculator and of the per-policy queries, on DuckDB and PostgreSQL;
its SQL is compiled once per policy version."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from datetime import date
from decimal import Decimal

import ibis
import pytest
from hypothesis import HealthCheck, find, given, settings
from rr_households import ANY_EXAMPLE, AS_OF, households, warehouse_tables

from zhixiang.demo import resident_policies_dir
from zhixiang.matching import count_queries, member_table, person_table, resident_counts
from zhixiang.rules import MEMBERS_KEY, compile_counts, evaluate_policy, load_policies

POLICIES = load_policies([resident_policies_dir()]).policies


def _calculator_counts(tables, as_of: date) -> dict[str, tuple[int, int, int, Decimal | None]]:
    """Per policy (eligible, needs information, ineligible, total amount) from `evaluate_policy`,
    the members and house shares joined in Python."""
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
    found = {}
    for policy in POLICIES:
        if policy.entity == "household":
            entities = [
                {**h, MEMBERS_KEY: tuple(members.get(h["household_id"], []))}
                for h in tables["household"].to_pylist()
            ]
        else:
            entities = [person(pid) for pid in people]
        verdicts = [evaluate_policy(policy, facts, as_of) for facts in entities]
        statuses = Counter(v.status for v in verdicts)
        paid = [v.amount for v in verdicts if v.status == "eligible" and v.amount is not None]
        found[policy.id] = (
            statuses["eligible"],
            statuses["needs_information"],
            statuses["ineligible"],
            sum(paid, Decimal(0)) if paid else None,
        )
    return found


def _engine_counts(con) -> dict[str, tuple[int, int, int, Decimal | None]]:
    return {
        c.policy_id: (c.eligible, c.needs_information, c.ineligible, c.total_amount)
        for c in resident_counts(POLICIES, con, AS_OF)
    }


def _load(con, tables) -> None:
    for name, table in tables.items():
        con.create_table(name, table, overwrite=True)


@pytest.fixture(scope="module")
def duck():
    return ibis.duckdb.connect()


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(drawn=households)
def test_one_scan_counts_agree_with_the_calculator(duck, drawn) -> None:
    tables = warehouse_tables(drawn)
    _load(duck, tables)
    assert _engine_counts(duck) == _calculator_counts(tables, AS_OF)


def test_one_scan_counts_equal_the_per_policy_queries(duck) -> None:
    drawn = find(
        households,
        lambda hs: len(hs) >= 4 and sum(len(h[2]) for h in hs) >= 2,
        settings=ANY_EXAMPLE,
    )
    tables = warehouse_tables(drawn)
    _load(duck, tables)
    together = {c.policy_id: dataclasses.astuple(c) for c in resident_counts(POLICIES, duck, AS_OF)}
    assert set(together) == {p.id for p in POLICIES if p.in_force(AS_OF)}
    members, persons = member_table(duck), person_table(duck)
    for policy in POLICIES:
        if policy.entity == "household":
            expr = compile_counts(
                policy, duck.table("household"), AS_OF, key="household_id", members=members
            )
        else:
            expr = compile_counts(policy, persons, AS_OF, key="id_number")
        row = expr.to_pyarrow().to_pylist()[0]
        alone = (row["eligible"], row["needs_information"], row["ineligible"], row["near_miss"])
        assert together[policy.id][3:7] == tuple(int(x or 0) for x in alone), policy.id
        assert together[policy.id][7] == row["total_amount"], policy.id


def test_count_sql_is_compiled_once_per_policy_version(duck, monkeypatch) -> None:
    drawn = find(households, lambda hs: len(hs) >= 2, settings=ANY_EXAMPLE)
    _load(duck, warehouse_tables(drawn))
    cache: dict[str, str] = {}
    first = count_queries(POLICIES, duck, AS_OF, cache=cache)
    assert [g[0].entity for g, _ in first] == ["household", "person"]
    assert len(cache) == 2  # one query per entity kind, not one per policy
    again = count_queries(POLICIES, duck, AS_OF, cache=cache)
    assert [sql for _, sql in again] == [sql for _, sql in first] and len(cache) == 2
    # another evaluation date (parameters may change with it) is compiled anew
    count_queries(POLICIES, duck, date(2025, 7, 1), cache=cache)
    assert len(cache) == 4
    # the age is read from the birth columns derived once, not from the 身份证号 per policy
    person_sql = first[1][1]
    assert person_sql.count("_birth_year") >= 1
    assert person_sql.lower().count("regexp") <= 2  # once for the year, once for the day
    # a server that runs for years keeps only the newest queries
    monkeypatch.setattr("zhixiang.matching._residents._COUNT_SQL_KEPT", 3)
    newest = count_queries(POLICIES, duck, date(2025, 8, 1), cache=cache)
    assert len(cache) == 3 and all(sql in cache.values() for _, sql in newest)


@pytest.mark.postgres
def test_postgresql_counts_equal_duckdb(postgres_url: str) -> None:
    import psycopg

    drawn = find(
        households,
        lambda hs: len(hs) >= 6 and sum(len(h[2]) for h in hs) >= 3,
        settings=ANY_EXAMPLE,
    )
    tables = warehouse_tables(drawn)
    schema = f"rp_{uuid.uuid4().hex[:10]}"
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
        in_duckdb = _engine_counts(duck)
        assert _engine_counts(pg) == in_duckdb
        assert in_duckdb == _calculator_counts(tables, AS_OF)
        pg.disconnect()
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
