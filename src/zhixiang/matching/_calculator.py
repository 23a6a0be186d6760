"""政策计算器: every policy for one entity, with each condition's actual value against its threshold.

Fast because nothing is built per call: the stored facts come from one parametrised query on the
indexed key (no Ibis expression, no SQL compiled per lookup), the policies are parsed and checked
once, and the evaluation of the same facts on the same day is remembered.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from zhixiang.catalog import Catalog, FieldType, load_catalog
from zhixiang.datahub import SharedRead, Warehouse, read_entities
from zhixiang.errors import NotFound
from zhixiang.rules import (
    FIELD_VALUE_TYPES,
    KIND_LABELS,
    OPERATOR_LABELS,
    Gap,
    Policy,
    Value,
    Verdict,
    evaluate_policy,
    format_value,
)


@dataclass(frozen=True)
class EntityReport:
    entity_id: str
    name: str | None
    as_of: date
    verdicts: tuple[tuple[Policy, Verdict], ...]

    @property
    def total_amount(self) -> Decimal:
        return sum((v.amount for _, v in self.verdicts if v.amount is not None), Decimal(0))

    def to_dict(self) -> dict:
        """A JSON-ready account: amounts as exact strings, values formatted as an officer reads them."""
        return {
            "entity_id": self.entity_id,
            "name": self.name,
            "as_of": self.as_of.isoformat(),
            "total_amount": str(self.total_amount),
            "policies": [
                {
                    "policy_id": p.id,
                    "title": p.title,
                    "department": p.department,
                    "source": f"{p.document} {p.clause}",
                    "status": v.status,
                    "near_miss": v.near_miss,
                    "closeness": None if v.closeness is None else str(v.closeness),
                    "holds_on": None if v.holds_on is None else v.holds_on.isoformat(),
                    "amount": None if v.amount is None else str(v.amount),
                    "failed": list(v.failed),
                    "unknown": list(v.unknown),
                    "missing_for_amount": [f.label for f in v.missing_for_amount],
                    "conditions": [
                        {
                            "id": o.id,
                            "label": o.label,
                            "expression": o.expression,
                            "result": o.result,
                            "missing": [f.label for f in o.missing],
                            "scope": o.scope,
                            "needs_review": o.needs_review,
                            "gap": gap_dict(o.gap),
                            "facts": {
                                f.label: format_value(v, FIELD_VALUE_TYPES[f.type])
                                for f, v in o.facts
                            },
                            "comparisons": [
                                {
                                    "left": c.left,
                                    "value": format_value(c.left_value, c.type),
                                    "op": OPERATOR_LABELS[c.op],
                                    "threshold": format_value(c.right_value, c.type),
                                    "result": c.result,
                                }
                                for c in o.comparisons
                            ],
                        }
                        for o in v.conditions
                    ],
                }
                for p, v in self.verdicts
            ],
        }


def gap_dict(gap: Gap | None) -> dict | None:
    """A condition's gap as JSON: exact decimals as strings, and the sentence to tell the entity."""
    if gap is None:
        return None
    return {
        "kind": gap.kind.value,
        "kind_label": KIND_LABELS[gap.kind],
        "closeness": None if gap.closeness is None else str(gap.closeness),
        "shortfall": None if gap.shortfall is None else str(gap.shortfall),
        "shortfall_text": None
        if gap.shortfall is None
        else format_value(gap.shortfall, gap.value_type),
        "holds_on": None if gap.holds_on is None else gap.holds_on.isoformat(),
        "text": gap.describe(),
    }


def facts_from_row(catalog: Catalog, row: Mapping[str, object]) -> dict[str, Value]:
    """Typed facts from a stored row: counts become exact decimals, timestamps become dates."""
    facts: dict[str, Value] = {}
    for f in catalog.fields:
        value = row.get(f.name)
        if value is None:
            facts[f.name] = None
        elif f.type in (FieldType.INTEGER, FieldType.DECIMAL, FieldType.MONEY, FieldType.RATIO):
            facts[f.name] = value if isinstance(value, Decimal) else Decimal(str(value))
        elif f.type is FieldType.DATE and isinstance(value, datetime):
            facts[f.name] = value.date()
        else:
            facts[f.name] = value  # type: ignore[assignment]
    return facts


class EntityLookup:
    """The stored facts of one entity by key: a parametrised query on the indexed key column.

    DuckDB warehouses are opened through the data hub's connection layer and reopened when the file
    is replaced (an import publishes a rebuilt warehouse by swapping the file); PostgreSQL uses a
    server-side prepared statement. One lookup serves many threads.
    """

    def __init__(self, url: str, table: str = "enterprise", entity: str = "enterprise") -> None:
        self.url = url
        self.catalog = load_catalog(entity)
        self._sql = f'SELECT * FROM "{table}" WHERE "{self.catalog.key}" = ? LIMIT 1'
        self._lock = threading.RLock()  # the layer may ask this thread itself to let go
        self._con: Any = None
        self._wh: Any = None
        self._open()

    def _open(self) -> None:
        if self.url.startswith("duckdb://"):
            from zhixiang.datahub import open_warehouse

            path = Path(self.url.removeprefix("duckdb://"))
            if not path.is_file():
                raise NotFound(f"找不到数据仓库文件: {path}", field="warehouse")
            # Through the data hub's connection layer: one instance of the file per process, and
            # let go of (then reopened) when an import publishes a new file.
            self._wh = open_warehouse(self.url)  # busy: WarehouseBusy, a 503
            self._con = self._wh.duckdb_connection()
            self._wh.release_when_replaced(self._release)
        else:
            import psycopg

            url = self.url.replace("postgresql+psycopg://", "postgresql://")
            self._con = psycopg.connect(url, autocommit=True, prepare_threshold=0)
            self._sql = self._sql.replace("?", "%s")

    def _release(self) -> None:
        with self._lock:
            if self._wh is not None:
                self._wh.close()
                self._wh = self._con = None

    def _fresh(self) -> None:
        """Reopen a DuckDB warehouse that was replaced since it was opened (one stat per call)."""
        if self.url.startswith("duckdb://") and (self._wh is None or self._wh.is_stale()):
            if self._wh is not None:
                self._wh.close()
                self._wh = self._con = None
            self._open()

    def __call__(self, entity_id: str) -> dict[str, Value] | None:
        with self._lock:
            self._fresh()
            cursor = self._con.execute(self._sql, [entity_id])
            row = cursor.fetchone()
            names = [d[0] for d in cursor.description]
        return (
            None
            if row is None
            else facts_from_row(self.catalog, dict(zip(names, row, strict=True)))
        )

    def close(self) -> None:
        with self._lock:
            if self._wh is not None:
                self._wh.close()
                self._wh = self._con = None
            elif self._con is not None:
                self._con.close()


_MEMORY = 4096  # evaluations remembered per calculator (a report is a few kB)


class Calculator:
    """Answers for one entity at a time from the same policies the batch engine runs."""

    def __init__(
        self,
        policies: Sequence[Policy],
        lookup: EntityLookup | None = None,
        entity: str = "enterprise",
    ):
        self.policies = [p for p in policies if p.entity == entity]
        self.catalog = load_catalog(entity)
        self.lookup = lookup
        self._remembered: OrderedDict[tuple, tuple] = OrderedDict()
        self._lock = threading.Lock()

    def evaluate(
        self, facts: Mapping[str, Value], as_of: date, entity_id: str = ""
    ) -> EntityReport:
        """Every policy in force on `as_of` for the given facts (stored or typed in by a user)."""
        key = (as_of, tuple(sorted(facts.items())))
        with self._lock:
            verdicts = self._remembered.get(key)
            if verdicts is not None:
                self._remembered.move_to_end(key)
        if verdicts is None:
            verdicts = tuple(
                (p, evaluate_policy(p, facts, as_of, explain=True))
                for p in self.policies
                if p.in_force(as_of)
            )
            with self._lock:
                self._remembered[key] = verdicts
                if len(self._remembered) > _MEMORY:
                    self._remembered.popitem(last=False)
        name = facts.get("name")
        return EntityReport(entity_id, str(name) if name else None, as_of, verdicts)

    def explain(self, entity_id: str, as_of: date) -> EntityReport | None:
        """The report for a stored entity, or None when the entity table has no such key."""
        if self.lookup is None:
            return None
        facts = self.lookup(entity_id)
        return None if facts is None else self.evaluate(facts, as_of, entity_id)


#: The purpose an enterprise's account is read for unless the caller names another; a grant
#: applies only to reads for the purpose it was given for.
EXPLAIN_PURPOSE = "政策找人"


def explain_under_grants(
    wh: Warehouse,
    calculator: Calculator,
    credit_code: str,
    as_of: date,
    *,
    reader: str,
    purpose: str,
    via: str,
) -> tuple[EntityReport, SharedRead] | None:
    """One enterprise's report from the shared data as `reader` may see it (None: no such key).

    The facts come through the data hub's grants, never straight from the entity table: internal
    fields `reader` holds no grant for are withheld, so the conditions needing them read as unknown,
    and the read is audited. Staff screens and the API both answer through here.
    """
    shared = read_entities(
        wh, "enterprise", reader=reader, purpose=purpose, keys=[credit_code], limit=1, via=via
    )
    rows = shared.table.to_pylist()
    if not rows:
        return None
    facts = facts_from_row(load_catalog("enterprise"), rows[0])
    return calculator.evaluate(facts, as_of, credit_code), shared
