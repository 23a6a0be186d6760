"""Reading a published run: counts, pages of rows, near-misses, with condition ids decoded.

Rows are read from the run's Parquet through an in-memory DuckDB, never from the warehouse, so
reading results never competes with imports or a running match for the warehouse file.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

from zhixiang.errors import InvalidInput
from zhixiang.matching import _store as store
from zhixiang.matching._batch import KEEP_CLOSENESS
from zhixiang.rules import NEAR_MISS_CLOSENESS

Kind = Literal["eligible", "needs_information", "near_miss", "changed"]
KINDS: dict[str, str] = {
    "eligible": "r.failed = 0 AND r.unknown = 0",
    "needs_information": "r.failed = 0 AND r.unknown <> 0",
    "near_miss": f"r.closeness >= {NEAR_MISS_CLOSENESS}",
    "changed": "r.changed",
}
ORDERS = {
    "entity_id": "e.entity_id",
    "amount": "r.amount",
    "status": "r.failed, r.unknown",
    "closeness": "r.closeness",
    "holds_on": "r.holds_on",
}
MAX_UPCOMING_DAYS = 3660
MAX_PAGE = 10_000


@dataclass(frozen=True)
class MatchRow:
    """One entity × policy outcome of a run, decoded: condition ids instead of bit masks."""

    entity_id: str
    policy_id: str
    status: str  # eligible | needs_information | ineligible
    failed: tuple[str, ...]
    unknown: tuple[str, ...]
    amount: Decimal | None
    changed: bool  # differs from the previous run (or the policy or entity is new)
    closeness: Decimal | None = None  # outreach: how close a near-miss candidate is (0–1)
    holds_on: date | None = None  # 即将符合: the day it qualifies with no change

    @property
    def near_miss(self) -> bool:
        return self.closeness is not None and self.closeness >= NEAR_MISS_CLOSENESS


def _status(failed: int, unknown: int) -> str:
    return "ineligible" if failed else "needs_information" if unknown else "eligible"


class Results:
    """One published run, opened for reading; thread-safe (each call uses its own cursor)."""

    def __init__(self, run: store.MatchRun) -> None:
        import duckdb

        assert run.path is not None
        self.run = run
        self._con = duckdb.connect()
        self._lock = threading.Lock()

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Results:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _query(self, sql: str, params: list[object] | None = None) -> list[tuple]:
        with self._lock:
            cursor = self._con.cursor()
        try:
            return cursor.execute(sql, params or []).fetchall()
        finally:
            cursor.close()

    def _rows_relation(self, policy_id: str) -> str:
        self.run.policy(policy_id)  # NotFound for a policy the run does not have
        assert self.run.path is not None
        rows = self.run.path / "rows" / f"policy_id={policy_id}" / "*.parquet"
        entities = self.run.path / "entities" / "*.parquet"
        return (
            f"read_parquet('{_escape(rows)}') r"
            f" JOIN read_parquet('{_escape(entities)}') e ON r.idx = e.idx"
        )

    def _where(self, kind: Kind | None) -> str:
        if kind is None:
            return "true"
        if kind not in KINDS:
            raise InvalidInput(f"未知的结果类别 {kind}（可选: {'、'.join(KINDS)}）", field="kind")
        return KINDS[kind]

    def count(self, policy_id: str, kind: Kind | None = None) -> int:
        """How many kept rows of the policy are of this kind (for paging)."""
        sql = f"SELECT count(*) FROM {self._rows_relation(policy_id)} WHERE {self._where(kind)}"
        return int(self._query(sql)[0][0])

    def rows(
        self,
        policy_id: str,
        kind: Kind | None = None,
        *,
        order_by: str = "entity_id",
        descending: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> list[MatchRow]:
        """A page of the policy's kept rows of one kind, sorted (ties broken by entity_id)."""
        if order_by not in ORDERS:
            raise InvalidInput(
                f"不能按 {order_by} 排序（可选: {'、'.join(ORDERS)}）", field="order_by"
            )
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise InvalidInput(f"每页 1–{MAX_PAGE:,} 行，起点不能为负", field="limit")
        direction = "DESC NULLS LAST" if descending else "ASC NULLS LAST"
        order = ", ".join(f"{col} {direction}" for col in ORDERS[order_by].split(", "))
        sql = (
            f"SELECT {_SELECTED} FROM {self._rows_relation(policy_id)} WHERE {self._where(kind)}"
            f" ORDER BY {order}, e.entity_id LIMIT ? OFFSET ?"
        )
        return [self._decode(policy_id, row) for row in self._query(sql, [limit, offset])]

    def _ranked(
        self, policy_id: str | None, where: str, order: str, params: list, limit: int
    ) -> list[MatchRow]:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"每页 1–{MAX_PAGE:,} 行", field="limit")
        chosen = [policy_id] if policy_id else [p.policy_id for p in self.run.policies]
        if not chosen:
            return []
        union = " UNION ALL ".join(
            f"SELECT {_SELECTED}, {_literal(pid)} AS policy_id"
            f" FROM {self._rows_relation(pid)} WHERE {where}"
            for pid in chosen
        )
        sql = f"SELECT * FROM ({union}) ORDER BY {order}, entity_id, policy_id LIMIT ?"
        return [
            self._decode(row[-1], row[:-1])
            for row in self._query(sql, [*params * len(chosen), limit])
        ]

    def near_misses(
        self,
        policy_id: str | None = None,
        limit: int = 20,
        closeness: Decimal = NEAR_MISS_CLOSENESS,
    ) -> list[MatchRow]:
        """差一项, ranked closest first: every scope condition met, each missed threshold reached to
        at least `closeness` (0.5–1), and something the entity can act on missed."""
        closeness = _closeness(closeness)
        return self._ranked(
            policy_id,
            "r.closeness >= ?",
            "closeness DESC, bit_count(failed)",
            [closeness],
            limit,
        )

    def count_near_misses(self, policy_id: str, closeness: Decimal = NEAR_MISS_CLOSENESS) -> int:
        sql = f"SELECT count(*) FROM {self._rows_relation(policy_id)} WHERE r.closeness >= ?"
        return int(self._query(sql, [_closeness(closeness)])[0][0])

    def upcoming(
        self, days: int = 90, policy_id: str | None = None, limit: int = 20
    ) -> list[MatchRow]:
        """即将符合: entities that qualify within `days` of the run's date with no change, soonest first."""
        if not 1 <= days <= MAX_UPCOMING_DAYS:
            raise InvalidInput(f"天数应在 1–{MAX_UPCOMING_DAYS} 之间，实为 {days}", field="days")
        until = self.run.as_of + timedelta(days=days)
        return self._ranked(
            policy_id, "r.holds_on <= ? AND r.unknown = 0", "holds_on", [until], limit
        )

    def outcome(self, entity_id: str) -> list[MatchRow]:
        """Every kept row of one entity in this run (a policy it is not listed for, it fails twice)."""
        assert self.run.path is not None
        entities = _escape(self.run.path / "entities" / "*.parquet")
        found = self._query(
            f"SELECT idx FROM read_parquet('{entities}') WHERE entity_id = ?", [entity_id]
        )
        rows: list[MatchRow] = []
        for (idx,) in found:
            for counts in self.run.policies:
                path = self.run.path / "rows" / f"policy_id={counts.policy_id}" / "*.parquet"
                sql = (
                    "SELECT ? AS entity_id, failed, unknown, amount, changed, closeness, holds_on"
                    f" FROM read_parquet('{_escape(path)}') WHERE idx = ?"
                )
                rows += [
                    self._decode(counts.policy_id, r) for r in self._query(sql, [entity_id, idx])
                ]
        return rows

    def _decode(self, policy_id: str, row: tuple) -> MatchRow:
        entity_id, failed, unknown, amount, changed, closeness, holds_on = row
        counts = self.run.policy(policy_id)
        return MatchRow(
            entity_id=entity_id,
            policy_id=policy_id,
            status=_status(failed, unknown),
            failed=counts.condition_ids(failed),
            unknown=counts.condition_ids(unknown, unknown=True),
            amount=amount,
            changed=bool(changed),
            closeness=closeness,
            holds_on=holds_on,
        )


_SELECTED = "e.entity_id, r.failed, r.unknown, r.amount, r.changed, r.closeness, r.holds_on"


def _closeness(value: Decimal | float | str) -> Decimal:
    try:
        found = Decimal(str(value))
    except ArithmeticError:
        raise InvalidInput(
            f"接近程度应为 {KEEP_CLOSENESS}–1 之间的数，实为 {value}", field="closeness"
        ) from None
    if not KEEP_CLOSENESS <= found <= 1:
        raise InvalidInput(
            f"接近程度应在 {KEEP_CLOSENESS}–1 之间（如 0.8 即每项门槛已达 80%），实为 {value}",
            field="closeness",
        )
    return found


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _escape(path: Path) -> str:
    return str(path).replace("'", "''")


def open_results(results_dir: Path, run_id: str | None = None) -> Results:
    """The current run (or the one named) for reading; NotFound when there is none yet."""
    return Results(store.load_run(results_dir, run_id))
