"""Residents: persons grouped into households, matched by the same compiled policies.

The warehouse holds `person`, `household`, `household_member` (household_id, id_number, role),
`house` and `house_owner` (house_id, id_number, share). Counting compiles every household policy
into one query (one GROUP BY over the members for all their aggregates, then one pass over the
households) and every person policy into another; the SQL is kept per policy version. The
one-household calculator reads the same rows by key and must agree.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from zhixiang.catalog import load_catalog
from zhixiang.errors import NotFound, Unavailable
from zhixiang.matching._calculator import facts_from_row
from zhixiang.matching._compiled import compiler_fingerprint, content_hash
from zhixiang.rules import (
    COUNT_COLUMNS,
    MEMBERS_KEY,
    Policy,
    Value,
    birth_columns,
    compile_counts_many,
    compile_policy,
    member_catalog,
    person_scope_catalog,
)

RESIDENT_ENTITIES = ("household", "person")
TABLES = ("person", "household", "household_member", "house", "house_owner")


def _area_column(house: ir.Table) -> ir.Value:
    return house["area"] if "area" in house.columns else house["floor_area"]


def _ownership(con: BaseBackend) -> ir.Table:
    """Per person: whether they own a share of a house, and the area their shares add up to."""
    owners, house = con.table("house_owner"), con.table("house")
    joined = owners.join(house, owners.house_id == house.house_id)
    share = joined["share"].cast("decimal(12, 6)")
    area = (_area_column(joined).cast("decimal(12, 2)") * share).cast("decimal(18, 8)")
    return joined.group_by(_oid=joined["id_number"]).aggregate(
        _houses=(share > 0).ifelse(1, 0).sum(), _area=area.sum()
    )


def _with_ownership(con: BaseBackend, persons: ir.Table) -> ir.Table:
    """Persons with 有房, 名下住房面积 and their birth year and day (so 年龄 is read, not derived)."""
    owned = _ownership(con)
    joined = persons.left_join(owned, persons.id_number == owned["_oid"])
    return joined.select(
        *persons.columns,
        owns_house=joined["_houses"].fill_null(0) > 0,
        owned_area=joined["_area"].fill_null(0).cast("decimal(18, 8)"),
        **birth_columns(persons),
    )


def person_table(con: BaseBackend) -> ir.Table:
    """The person table with the derived facts a person policy may read (有房, 名下住房面积)."""
    return _with_ownership(con, con.table("person"))


def member_table(con: BaseBackend) -> ir.Table:
    """One row per household member: household_id, role and the member's person facts."""
    links, persons = con.table("household_member"), con.table("person")
    joined = links.join(persons, links.id_number == persons.id_number)
    members = joined.select(
        *persons.columns, household_id=joined["household_id"], role=joined["role"]
    )
    return _with_ownership(con, members)


def resident_evaluations(
    policies: Sequence[Policy], con: BaseBackend, as_of: date, *, with_ids: bool = True
) -> list[ir.Table]:
    """One compiled result table per resident policy in force (nothing is executed here)."""
    results = []
    members = member_table(con) if any(p.entity == "household" for p in policies) else None
    for policy in policies:
        if not policy.in_force(as_of):
            continue
        if policy.entity == "household":
            results.append(
                compile_policy(
                    policy,
                    con.table("household"),
                    as_of,
                    key="household_id",
                    with_ids=with_ids,
                    members=members,
                )
            )
        elif policy.entity == "person":
            results.append(
                compile_policy(policy, person_table(con), as_of, key="id_number", with_ids=with_ids)
            )
    return results


@dataclass(frozen=True)
class ResidentCounts:
    policy_id: str
    title: str
    entity: str
    eligible: int
    needs_information: int
    ineligible: int
    near_miss: int
    total_amount: Decimal | None


def resident_counts(
    policies: Sequence[Policy], con: BaseBackend, as_of: date
) -> list[ResidentCounts]:
    """Per-policy counts over all households and persons, aggregated inside the engine.

    Two queries in all: every household policy in one (one GROUP BY over the members computes
    every aggregate, then one pass over the households), every person policy in another. The SQL
    is compiled once per policy version and table schema (`count_queries`).
    """
    found: dict[str, ResidentCounts] = {}
    for group, sql in count_queries(policies, con, as_of):
        cursor = con.raw_sql(sql)
        try:
            names = [d[0] for d in cursor.description]
            row = dict(zip(names, cursor.fetchone(), strict=True))
        finally:
            if con.name != "duckdb":  # DuckDB hands back the connection itself
                cursor.close()
        for k, policy in enumerate(group):
            got = {name: row[f"p{k}_{name}"] for name in COUNT_COLUMNS}
            found[policy.id] = ResidentCounts(
                policy.id,
                policy.title,
                policy.entity,
                int(got["eligible"] or 0),
                int(got["needs_information"] or 0),
                int(got["ineligible"] or 0),
                int(got["near_miss"] or 0),
                None if got["total_amount"] is None else Decimal(got["total_amount"]),
            )
    return [found[p.id] for p in policies if p.id in found]


_COUNT_SQL: dict[str, str] = {}  # compiled count queries by (policies' meaning, schema, dialect)
_COUNT_SQL_KEPT = 64  # a server runs for years: one entry per group and day would grow without end


def count_queries(
    policies: Sequence[Policy],
    con: BaseBackend,
    as_of: date,
    *,
    cache: MutableMapping[str, str] | None = None,
) -> list[tuple[list[Policy], str]]:
    """The household policies and the person policies in force, each group with its one SQL query.

    Building the Ibis expressions and rendering them costs more CPU than DuckDB needs to run them,
    so the SQL is kept (in `cache`, by default for the process) per policy version, evaluation
    date, table schema and compiler version.
    """
    kept = _COUNT_SQL if cache is None else cache
    in_force = [p for p in policies if p.in_force(as_of) and p.entity in RESIDENT_ENTITIES]
    groups = [
        ("household", [p for p in in_force if p.entity == "household"]),
        ("person", [p for p in in_force if p.entity == "person"]),
    ]
    schema = repr([(t, tuple(con.table(t).schema().items())) for t in TABLES])
    queries = []
    for entity, group in groups:
        if not group:
            continue
        parts = [compiler_fingerprint(), con.name, entity, as_of.isoformat(), schema]
        parts += [content_hash(p, as_of) for p in group]
        key = hashlib.sha256("\n".join(parts).encode()).hexdigest()
        sql = kept.get(key)
        if sql is None:
            if entity == "household":
                expr = compile_counts_many(
                    group,
                    con.table("household"),
                    as_of,
                    key="household_id",
                    members=member_table(con),
                )
            else:
                expr = compile_counts_many(group, person_table(con), as_of, key="id_number")
            sql = kept[key] = str(ibis.to_sql(expr, dialect=con.name))
            while len(kept) > _COUNT_SQL_KEPT:
                del kept[next(iter(kept))]  # the oldest (dicts keep insertion order)
        queries.append((group, sql))
    return queries


# ---------------------------------------------------------------- one household by key

_CENT, _SHARE_PLACES = Decimal("0.01"), Decimal("0.000001")


def _decimal(value: object, places: Decimal) -> Decimal:
    """A stored number as the engine casts it (area to DECIMAL(12, 2), share to DECIMAL(12, 6))."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return number.quantize(places, rounding=ROUND_HALF_UP)


class HouseholdLookup:
    """A household's facts and its members' facts by key, with plain parametrised queries.

    Each query reads one table by its key (household, its member links, the members, their house
    shares, those houses), so none joins or scans a whole table; house shares are summed here,
    exactly as the engine sums them. One lookup serves many threads. DuckDB warehouses are opened
    read-only.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.households = load_catalog("household")
        self.members = member_catalog("person")
        self.persons = person_scope_catalog()
        self._lock = threading.RLock()  # the layer may ask this thread itself to let go
        self._con: Any = None
        self._mark = "?"
        self._wh: Any = None
        self._duckdb = url.startswith("duckdb://")
        if self._duckdb:
            path = Path(url.removeprefix("duckdb://"))
            if not path.is_file():
                raise NotFound(f"找不到数据仓库文件: {path}", field="warehouse")
            self._open()
        else:
            import psycopg

            self._con = psycopg.connect(
                url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
            )
            self._mark = "%s"
        columns = {row[0] for row in self._rows("SELECT * FROM house LIMIT 0", [], names=True)}
        self._area = "area" if "area" in columns else "floor_area"

    def _open(self) -> None:
        """The data hub's instance of the file, shared with every other reader in the process (a
        DuckDB connection of its own would clash with it, "different configuration"), let go of
        when an import wants to write or has published a new file, and reopened on the next use."""
        from zhixiang.datahub import WarehouseError, open_warehouse

        try:
            self._wh = open_warehouse(self.url)
        except WarehouseError as exc:
            raise Unavailable(f"数据仓库暂时无法读取: {exc}") from exc
        self._wh.release_when_replaced(self._release)

    def _release(self) -> None:
        with self._lock:
            if self._wh is not None:
                self._wh.close()
                self._wh = None

    def _rows(self, sql: str, params: Sequence[object], names: bool = False) -> list[tuple]:
        with self._lock:
            if self._duckdb and (self._wh is None or self._wh.is_stale()):
                self._release()
                self._open()
            if self._wh is not None:
                table = self._wh.arrow(sql, params)
                if names:
                    return [(n,) for n in table.column_names]
                return [tuple(row.items()) for row in table.to_pylist()]
            cursor = self._con.execute(sql.replace("?", self._mark), params)
            if names:
                return [(d[0],) for d in cursor.description]
            return [
                tuple(zip((d[0] for d in cursor.description), row, strict=True))
                for row in cursor.fetchall()
            ]

    def household_of(self, id_number: str) -> str | None:
        """The household a person belongs to (a person is in at most one)."""
        rows = self._rows(
            "SELECT household_id FROM household_member WHERE id_number = ? LIMIT 1", [id_number]
        )
        return None if not rows else str(dict(rows[0])["household_id"])

    def __call__(self, household_id: str) -> dict[str, Value] | None:
        """The household's facts, its members (with role, 有房, 名下住房面积) under MEMBERS_KEY."""
        found = self._rows("SELECT * FROM household WHERE household_id = ? LIMIT 1", [household_id])
        if not found:
            return None
        facts = facts_from_row(self.households, dict(found[0]))
        links = self._rows(
            "SELECT id_number, role FROM household_member WHERE household_id = ?", [household_id]
        )
        roles = {str(dict(r)["id_number"]): dict(r)["role"] for r in links}
        members = [
            member_facts({**row, "role": roles[str(row["id_number"])]})
            for row in self._persons(sorted(roles))
        ]
        facts[MEMBERS_KEY] = tuple(members)  # type: ignore[assignment]
        return facts

    def person(self, id_number: str) -> dict[str, Value] | None:
        """One person's facts with 有房 and 名下住房面积, for person policies."""
        rows = self._persons([id_number])
        return None if not rows else facts_from_row(self.persons, rows[0])

    def _persons(self, ids: Sequence[str]) -> list[dict[str, object]]:
        """The persons with these 身份证号 (in that order), each with owns_house and owned_area."""
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        found = {
            str(row["id_number"]): row
            for row in map(
                dict, self._rows(f"SELECT * FROM person WHERE id_number IN ({marks})", list(ids))
            )
        }
        shares = [
            dict(r)
            for r in self._rows(
                f"SELECT id_number, house_id, share FROM house_owner WHERE id_number IN ({marks})",
                list(ids),
            )
        ]
        areas: dict[object, object] = {}
        houses = sorted({str(s["house_id"]) for s in shares})
        if houses:
            marks = ", ".join("?" for _ in houses)
            sql = f"SELECT house_id, {self._area} AS area FROM house WHERE house_id IN ({marks})"
            areas = {str(dict(r)["house_id"]): dict(r)["area"] for r in self._rows(sql, houses)}
        owned: dict[str, tuple[int, Decimal]] = {}
        for share in shares:
            area = areas.get(str(share["house_id"]))
            if area is None or share["share"] is None:
                continue  # the engine's inner join drops shares of unknown houses
            fraction = _decimal(share["share"], _SHARE_PLACES)
            houses_n, total = owned.get(str(share["id_number"]), (0, Decimal(0)))
            owned[str(share["id_number"])] = (
                houses_n + (fraction > 0),
                total + _decimal(area, _CENT) * fraction,
            )
        rows = []
        for pid in ids:
            if pid in found:
                houses_n, total = owned.get(pid, (0, Decimal(0)))
                rows.append({**found[pid], "owns_house": houses_n > 0, "owned_area": total})
        return rows

    def close(self) -> None:
        with self._lock:
            if self._duckdb:
                self._release()
            else:
                self._con.close()


def member_facts(row: Mapping[str, object]) -> dict[str, Value]:
    """A stored member row (person columns, role, owns_house, owned_area) as typed facts."""
    return facts_from_row(member_catalog("person"), row)


def connect_warehouse(url: str) -> BaseBackend:
    """An Ibis connection to the resident warehouse (read side)."""
    if url.startswith("duckdb://"):
        return ibis.duckdb.connect(url.removeprefix("duckdb://"), read_only=True)
    return ibis.connect(url)


def count_residents(url: str, policies: Sequence[Policy], as_of: date) -> list[ResidentCounts]:
    """`resident_counts` over the warehouse at `url` (DuckDB file or PostgreSQL)."""
    from zhixiang.matching._engine import connect

    con = connect(url)
    try:
        missing = [t for t in TABLES if t not in con.list_tables()]
        if missing:
            raise NotFound(f"数据仓库中缺少居民表: {'、'.join(missing)}", field="warehouse")
        return resident_counts(policies, con, as_of)
    finally:
        con.disconnect()
