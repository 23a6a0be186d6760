"""政策计算器: every policy for one entity, with each condition's actual value against its threshold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import ibis.expr.types as ir

from zhixiang.catalog import Catalog, FieldType, load_catalog
from zhixiang.rules import (
    FIELD_VALUE_TYPES,
    OPERATOR_LABELS,
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


def facts_from_row(catalog: Catalog, row: Mapping[str, object]) -> dict[str, Value]:
    """Typed facts from a stored row: counts become exact decimals, timestamps become dates."""
    facts: dict[str, Value] = {}
    for f in catalog.fields:
        value = row.get(f.name)
        if value is None:
            facts[f.name] = None
        elif f.type in (FieldType.INTEGER, FieldType.MONEY, FieldType.RATIO):
            facts[f.name] = value if isinstance(value, Decimal) else Decimal(str(value))
        elif f.type is FieldType.DATE and isinstance(value, datetime):
            facts[f.name] = value.date()
        else:
            facts[f.name] = value  # type: ignore[assignment]
    return facts


class Calculator:
    """Answers for one entity at a time from the same policies the batch engine runs."""

    def __init__(
        self, policies: Sequence[Policy], table: ir.Table | None = None, entity: str = "enterprise"
    ):
        self.policies = [p for p in policies if p.entity == entity]
        self.catalog = load_catalog(entity)
        self.table = table

    def lookup(self, entity_id: str) -> dict[str, Value] | None:
        """The stored facts of one entity, or None if it is not in the entity table."""
        if self.table is None:
            return None
        t = self.table
        rows = t.filter(t[self.catalog.key] == entity_id).limit(1).to_pyarrow().to_pylist()
        return facts_from_row(self.catalog, rows[0]) if rows else None

    def evaluate(
        self, facts: Mapping[str, Value], as_of: date, entity_id: str = ""
    ) -> EntityReport:
        """Every policy in force on `as_of` for the given facts (stored or typed in by a user)."""
        verdicts = tuple(
            (p, evaluate_policy(p, facts, as_of, explain=True))
            for p in self.policies
            if p.in_force(as_of)
        )
        name = facts.get("name")
        return EntityReport(entity_id, str(name) if name else None, as_of, verdicts)

    def explain(self, entity_id: str, as_of: date) -> EntityReport | None:
        facts = self.lookup(entity_id)
        return None if facts is None else self.evaluate(facts, as_of, entity_id)
