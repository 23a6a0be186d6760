"""The decision on one application, from facts the data hub holds and the few the applicant declared.

Pure: given the policy, the facts (each with where it came from), the fields departments disagree on
and the fields no grant lets us read, say approved (with the amount), refused (with the failed
conditions and the data behind them), or pending, with what a reviewer must look at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from zhixiang.catalog import Field
from zhixiang.rules import (
    AMOUNT_ID,
    FIELD_VALUE_TYPES,
    Policy,
    Value,
    evaluate_policy,
    format_value,
)

APPROVED, REFUSED, PENDING = "approved", "refused", "pending"
STATUS_LABELS = {APPROVED: "批准", REFUSED: "不予批准", PENDING: "待人工审核"}
DECLARED = "申请人申报"


@dataclass(frozen=True)
class Fact:
    """One value a condition read, and where it came from (a department via the data hub, or the
    applicant)."""

    field: str
    label: str
    value: str
    source: str

    def to_dict(self) -> dict:
        return {
            "field": self.field,
            "label": self.label,
            "value": self.value,
            "source": self.source,
        }


@dataclass(frozen=True)
class Check:
    """One condition of the policy for this application."""

    id: str
    label: str
    result: bool | None
    facts: tuple[Fact, ...]
    clear: bool  # decided from data the government holds, uncontested, no reviewer required
    concerns: tuple[str, ...]  # why a reviewer must look (missing, declared, contradicted …)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "label": self.label,
            "result": self.result,
            "clear": self.clear,
            "facts": [f.to_dict() for f in self.facts],
            "concerns": list(self.concerns),
        }


@dataclass(frozen=True)
class Decision:
    status: str  # approved | refused | pending
    amount: Decimal | None
    checks: tuple[Check, ...]
    failed: tuple[str, ...]  # conditions that clearly fail (a refusal names them)
    pending: tuple[str, ...]  # what a reviewer must look at, in plain words


def _source(f: Field, declared: Mapping[str, Value]) -> str:
    return DECLARED if f.name in declared else f"{f.department}（数据中台）"


def decide(
    policy: Policy,
    held: Mapping[str, Value],
    declared: Mapping[str, Value],
    as_of: date,
    *,
    contradicted: Mapping[str, str] | None = None,
    withheld: frozenset[str] = frozenset(),
) -> Decision:
    """Decide at once when every condition is known from held data and the result is clear.

    `held`: facts from the data hub (None when it has none); `declared`: facts only the applicant
    gave (never one the hub holds); `contradicted`: field → how departments disagree; `withheld`:
    fields no active grant lets this review read.
    """
    contradicted = contradicted or {}
    facts = {**held, **{k: v for k, v in declared.items() if held.get(k) is None}}
    verdict = evaluate_policy(policy, facts, as_of, explain=True)
    by_id = {c.id: c for c in policy.conditions}
    checks: list[Check] = []
    for outcome in verdict.conditions:
        concerns: list[str] = []
        for f, value in outcome.facts:
            if f.name in withheld:
                concerns.append(f"无有效授权读取“{f.label}”（{f.department}），请核实或补充授权")
            elif value is None:
                concerns.append(f"数据中台没有“{f.label}”（应由{f.department}提供），请核实")
            if f.name in declared:
                concerns.append(f"“{f.label}”为申请人申报，需核实")
            if f.name in contradicted:
                concerns.append(f"“{f.label}”部门数据不一致：{contradicted[f.name]}")
        if by_id[outcome.id].needs_review:
            concerns.append("该条件须审核员审核")
        checks.append(
            Check(
                outcome.id,
                outcome.label,
                outcome.result,
                tuple(
                    Fact(
                        f.name,
                        f.label,
                        format_value(v, FIELD_VALUE_TYPES[f.type]),
                        _source(f, declared),
                    )
                    for f, v in outcome.facts
                ),
                outcome.result is not None and not concerns,
                tuple(dict.fromkeys(concerns)),
            )
        )
    failed = tuple(c.id for c in checks if c.result is False and c.clear)
    if failed:
        return Decision(REFUSED, None, tuple(checks), failed, ())
    pending = [f"{c.label}：{'；'.join(c.concerns)}" for c in checks if not c.clear]
    if AMOUNT_ID in verdict.unknown:
        missing = "、".join(f.label for f in verdict.missing_for_amount)
        pending.append(f"金额无法计算：缺少{missing}")
    if pending:
        return Decision(PENDING, None, tuple(checks), (), tuple(pending))
    return Decision(APPROVED, verdict.amount, tuple(checks), (), ())
