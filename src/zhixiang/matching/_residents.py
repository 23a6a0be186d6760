"""Residents: persons grouped into households, matched by the same compiled policies.

The warehouse holds `person`, `household`, `household_member` (household_id, id_number, role),
`house` and `house_owner` (house_id, id_number, share). A household policy compiles to one
GROUP BY over its members; the one-household calculator reads the same rows by key and must agree.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from zhixiang.catalog import load_catalog
from zhixiang.errors import NotFound, Unavailable
from zhixiang.matching._calculator import facts_from_row
from zhixiang.rules import (
    MEMBERS_KEY,
    Policy,
    Value,
    compile_counts,
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
    owned = _ownership(con)
    joined = persons.left_join(owned, persons.id_number == owned["_oid"])
    return joined.select(
        *persons.columns,
        owns_house=joined["_houses"].fill_null(0) > 0,
        owned_area=joined["_area"].fill_null(0).cast("decimal(18, 8)"),
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

    The member and person tables (joins with house ownership) are materialised once as temporary
    tables, so twelve policies do not repeat the same joins twelve times.
    """
    members, persons = materialised_tables(con)
    found = []
    for policy in policies:
        if not policy.in_force(as_of) or policy.entity not in RESIDENT_ENTITIES:
            continue
        if policy.entity == "household":
            expr = compile_counts(
                policy, con.table("household"), as_of, key="household_id", members=members
            )
        else:
            expr = compile_counts(policy, persons, as_of, key="id_number")
        row = expr.to_pyarrow().to_pylist()[0]
        found.append(
            ResidentCounts(
                policy.id,
                policy.title,
                policy.entity,
                int(row["eligible"] or 0),
                int(row["needs_information"] or 0),
                int(row["ineligible"] or 0),
                int(row["near_miss"] or 0),
                row["total_amount"],
            )
        )
    return found


def materialised_tables(con: BaseBackend) -> tuple[ir.Table, ir.Table]:
    """`member_table` and `person_table` computed once in the engine, as temporary tables."""
    members = con.create_table("_zx_members", member_table(con), temp=True, overwrite=True)
    persons = con.create_table("_zx_persons", person_table(con), temp=True, overwrite=True)
    return members, persons


# ---------------------------------------------------------------- one household by key

_OWNED = """
  LEFT JOIN (
    SELECT o.id_number AS _oid, sum(CASE WHEN o.share > 0 THEN 1 ELSE 0 END) AS _houses,
           sum(CAST(h.{area} AS DECIMAL(12, 2)) * CAST(o.share AS DECIMAL(12, 6))) AS _area
    FROM house_owner o JOIN house h ON h.house_id = o.house_id
    WHERE o.id_number IN ({ids})
    GROUP BY o.id_number
  ) owned ON owned._oid = p.id_number
"""


class HouseholdLookup:
    """A household's facts and its members' facts by key, with plain parametrised queries.

    One lookup serves many threads. DuckDB warehouses are opened read-only.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.households = load_catalog("household")
        self.members = member_catalog("person")
        self.persons = person_scope_catalog()
        self._lock = threading.Lock()
        self._con: Any = None
        self._mark = "?"
        self._wh: Any = None
        if url.startswith("duckdb://"):
            from zhixiang.datahub import WarehouseError, open_warehouse

            path = Path(url.removeprefix("duckdb://"))
            if not path.is_file():
                raise NotFound(f"找不到数据仓库文件: {path}", field="warehouse")
            # The data hub's instance of the file, shared with every other reader in the process:
            # a second DuckDB connection of its own would clash with it ("different configuration").
            try:
                self._wh = open_warehouse(url)
            except WarehouseError as exc:
                raise Unavailable(f"数据仓库暂时无法读取: {exc}") from exc
        else:
            import psycopg

            self._con = psycopg.connect(
                url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
            )
            self._mark = "%s"
        columns = {row[0] for row in self._rows("SELECT * FROM house LIMIT 0", [], names=True)}
        self._area = "area" if "area" in columns else "floor_area"

    def _rows(self, sql: str, params: list[object], names: bool = False) -> list[tuple]:
        with self._lock:
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
            "SELECT id_number, role FROM household_member WHERE household_id = ? ORDER BY id_number",
            [household_id],
        )
        ids = [dict(r)["id_number"] for r in links]
        members: list[dict[str, Value]] = []
        if ids:
            marks = ", ".join("?" for _ in ids)
            sql = (
                "SELECT p.*, m.role, coalesce(owned._houses, 0) > 0 AS owns_house, "
                "coalesce(owned._area, 0) AS owned_area FROM person p "
                "JOIN household_member m ON m.id_number = p.id_number AND m.household_id = ? "
                + _OWNED.format(area=self._area, ids=marks)
                + f" WHERE p.id_number IN ({marks}) ORDER BY p.id_number"
            )
            for row in self._rows(sql, [household_id, *ids, *ids]):
                members.append(member_facts(dict(row)))
        facts[MEMBERS_KEY] = tuple(members)  # type: ignore[assignment]
        return facts

    def person(self, id_number: str) -> dict[str, Value] | None:
        """One person's facts with 有房 and 名下住房面积, for person policies."""
        sql = (
            "SELECT p.*, coalesce(owned._houses, 0) > 0 AS owns_house, "
            "coalesce(owned._area, 0) AS owned_area FROM person p "
            + _OWNED.format(area=self._area, ids="?")
            + " WHERE p.id_number = ? LIMIT 1"
        )
        rows = self._rows(sql, [id_number, id_number])
        return None if not rows else facts_from_row(self.persons, dict(rows[0]))

    def close(self) -> None:
        with self._lock:
            (self._wh or self._con).close()


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
