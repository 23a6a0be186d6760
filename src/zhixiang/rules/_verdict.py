"""One entity against one policy: the verdict, each condition's outcome, and what is missing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from zhixiang.catalog import Field
from zhixiang.rules._evaluate import Evaluator
from zhixiang.rules._evaluate import _compare as compare
from zhixiang.rules._gap import NEAR_MISS_CLOSENESS, Gap, gap, row_closeness, row_holds_on
from zhixiang.rules._language import (
    Aggregate,
    Compare,
    FieldRef,
    Node,
    RoleRef,
    Value,
    ValueType,
    _remembered,
    field_refs,
    group_refs,
    source_text,
)
from zhixiang.rules._policy import AMOUNT_ID, Policy

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Comparison:
    """One comparison inside a condition, with the actual values on both sides."""

    left: str
    left_value: Value
    type: ValueType | None
    op: str
    right: str
    right_value: Value
    result: bool | None


@dataclass(frozen=True)
class MemberFact:
    """What one household member contributed to an aggregate or role value of a condition."""

    id_number: str | None
    name: str | None
    role: str | None
    expression: str  # the aggregate or role value, as written in the policy
    included: bool | None  # the member met the `where` (None: unknown)
    value: Value
    type: ValueType | None
    missing: tuple[Field, ...]  # the member's facts that left the contribution unknown


@dataclass(frozen=True)
class ConditionOutcome:
    id: str
    label: str
    expression: str
    result: bool | None
    missing: tuple[Field, ...]
    comparisons: tuple[Comparison, ...]
    facts: tuple[tuple[Field, Value], ...]  # every field the condition reads, with its value
    gap: Gap | None = None
    scope: bool = False
    needs_review: bool = False
    members: tuple[MemberFact, ...] = ()  # for household policies: each member's part


@dataclass(frozen=True)
class Verdict:
    policy_id: str
    status: str  # eligible | ineligible | needs_information
    amount: Decimal | None
    failed: tuple[str, ...]
    unknown: tuple[str, ...]
    conditions: tuple[ConditionOutcome, ...] = ()
    missing_for_amount: tuple[Field, ...] = ()
    closeness: Decimal | None = None  # outreach: see `_gap.row_closeness`
    holds_on: date | None = None  # 即将符合: the day it qualifies with no change

    def near_miss_at(self, closeness: Decimal) -> bool:
        """Meets every scope condition and misses the rest by no more than `closeness` allows."""
        return self.closeness is not None and self.closeness >= closeness

    @property
    def near_miss(self) -> bool:
        return self.near_miss_at(NEAR_MISS_CLOSENESS)


def final_amount(raw: Value, cap: Decimal | None) -> Decimal | None:
    """The benefit as paid: never negative, never above the cap, rounded to the 分 (half up)."""
    if raw is None:
        return None
    assert isinstance(raw, Decimal)
    value = min(raw, cap) if cap is not None else raw
    return max(value, Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP)


def _compare_nodes(node: Node) -> list[Compare]:
    """Every comparison in a condition, outermost first (not inside another comparison)."""
    found: list[Compare] = []

    def walk(n: object) -> None:
        if isinstance(n, Compare):
            found.append(n)
        elif isinstance(n, Node):
            for value in vars(n).values():
                walk(value)
        elif isinstance(n, tuple):
            for item in n:
                walk(item)

    walk(node)
    return found


def _comparisons(node: Node, source: str, evaluate: Evaluator) -> list[Comparison]:
    """Each comparison's two sides as the user reads them: the walk is remembered per parsed node
    (the calculator asks for the same conditions many times), only the values are computed."""
    found: list[Comparison] = []
    for n in _remembered("compares", node, _compare_nodes):
        left, right = evaluate(n.left), evaluate(n.right)
        found.append(
            Comparison(
                source_text(source, n.left),
                left,
                n.left.type,
                n.op,
                source_text(source, n.right),
                right,
                compare(n.op, left, right),  # true, false or unknown, as the evaluator has it
            )
        )
    return found


def _member_facts(node: Node, source: str, evaluate: Evaluator) -> list[MemberFact]:
    found: list[MemberFact] = []
    for ref in group_refs(node):
        text = source_text(source, ref)
        if isinstance(ref, RoleRef):
            holders = [m for m in evaluate.members() if m.get("role") == ref.role]
            for m in holders[:1]:
                value = evaluate.member(m).eval(ref.value)
                missing = _missing(evaluate.member(m), [ref.value]) if value is None else ()
                found.append(_fact(m, text, True, value, ref.type, missing))
            continue
        assert isinstance(ref, Aggregate)
        if ref.func == "count" and ref.where is None:
            continue  # every member counts; nothing a member could be asked for
        for m, where, value in evaluate.member_outcomes(ref):
            if ref.func in ("any", "all"):
                unknown = where is None or (where and value is None)
            else:
                unknown = where is None or (where is True and value is None)
            missing = (
                _missing(evaluate.member(m), [n for n in (ref.where, ref.value) if n is not None])
                if unknown
                else ()
            )
            included = where if isinstance(where, bool) else None
            if ref.value is None:  # count(… where …): show whether the member is counted
                found.append(_fact(m, text, included, included, ValueType.BOOL, missing))
            else:
                found.append(_fact(m, text, included, value, ref.value.type, missing))
    return found


def _missing(member: Evaluator, nodes: list[Node]) -> tuple[Field, ...]:
    fields = [f for n in nodes for f in field_refs(n)]
    unique = list(dict.fromkeys(fields))
    return tuple(f for f in unique if member.eval(FieldRef((0, 0), f)) is None)


def _fact(
    m: Mapping[str, Value],
    text: str,
    included: bool | None,
    value: Value,
    vtype: ValueType | None,
    missing: tuple[Field, ...],
) -> MemberFact:
    return MemberFact(
        None if m.get("id_number") is None else str(m.get("id_number")),
        None if m.get("name") is None else str(m.get("name")),
        None if m.get("role") is None else str(m.get("role")),
        text,
        included,
        value,
        vtype,
        missing,
    )


def evaluate_policy(
    policy: Policy, facts: Mapping[str, Value], as_of: date, *, explain: bool = False
) -> Verdict:
    """Evaluate `policy` for one entity whose facts are keyed by English field name."""
    evaluate = Evaluator(facts, policy.params_at(as_of), as_of)
    failed: list[str] = []
    unknown: list[str] = []
    outcomes: list[ConditionOutcome] = []
    gaps: list[Gap] = []
    for condition in policy.conditions:
        result = evaluate(condition.node)
        if result is False:
            failed.append(condition.id)
        elif result is None:
            unknown.append(condition.id)
        found = gap(condition.analysis, result, evaluate)  # type: ignore[arg-type]
        gaps.append(found)
        if explain:
            used = field_refs(condition.node)
            missing = tuple(f for f in used if facts.get(f.name) is None)
            outcomes.append(
                ConditionOutcome(
                    condition.id,
                    condition.label,
                    condition.source,
                    result,  # type: ignore[arg-type]
                    missing,
                    tuple(_comparisons(condition.node, condition.source, evaluate)),
                    tuple((f, facts.get(f.name)) for f in used),
                    found,
                    condition.scope,
                    condition.needs_review,
                    tuple(_member_facts(condition.node, condition.source, evaluate)),
                )
            )
    amount: Decimal | None = None
    missing_for_amount: tuple[Field, ...] = ()
    if policy.benefit is not None and not failed:
        amount = final_amount(evaluate(policy.benefit.node), policy.benefit.cap)
        if amount is None:
            unknown.append(AMOUNT_ID)
            missing_for_amount = tuple(
                f for f in field_refs(policy.benefit.node) if facts.get(f.name) is None
            )
    status = "ineligible" if failed else "needs_information" if unknown else "eligible"
    return Verdict(
        policy.id,
        status,
        amount if status == "eligible" else None,
        tuple(failed),
        tuple(unknown),
        tuple(outcomes),
        missing_for_amount,
        row_closeness(gaps) if failed else None,
        row_holds_on(gaps) if failed else None,
    )
