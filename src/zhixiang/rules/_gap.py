"""How far an entity is from meeting a condition: the gap that makes an outreach list mean something.

A condition is one of four kinds, decided from its expression (and its `scope` flag):

- **scope** — who the policy is for (being a 高新技术企业, registered in 集美区): no gap; a near-miss
  must already meet every one of them.
- **date** — depends on the evaluation day (`years_since(成立日期) >= 2年`): the day it will hold with
  no change, when it can be computed; a condition that only stops holding as time passes never will.
- **threshold** — numeric comparisons against a threshold (`纳税总额 >= 1000万元`): how far (还差 50万元)
  and how close (97.5% of the threshold).
- **achievable** — any other state the entity can change (no tax arrears): met or not, no degree.

The same arithmetic is compiled to SQL in `_compile` (the batch engine) and evaluated here in exact
decimals (the calculator); a property-based test holds the two to the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import cache

from dateutil.relativedelta import relativedelta

from zhixiang.rules._evaluate import QUOTIENT_PLACES, Evaluator
from zhixiang.rules._format import format_value
from zhixiang.rules._language import (
    NUMERIC,
    Arith,
    BoolOp,
    Call,
    Compare,
    FieldRef,
    In,
    Literal,
    Node,
    ParamRef,
    ValueType,
)

CLOSENESS_PLACES = Decimal("0.0001")
ALMOST = Decimal("0.9999")  # a failing threshold is never shown as 100% of the way there
NEAR_MISS_CLOSENESS = Decimal("0.8")  # default: every missed threshold reached to at least 80%
ORDERING = {">=", ">", "<=", "<"}
_TIME_FUNCTIONS = {"today", "years_since", "months_since"}
_MIRROR = {">=": "<=", ">": "<", "<=": ">=", "<": ">"}


class ConditionKind(StrEnum):
    SCOPE = "scope"
    DATE = "date"
    THRESHOLD = "threshold"
    ACHIEVABLE = "achievable"


KIND_LABELS = {
    ConditionKind.SCOPE: "适用范围",
    ConditionKind.DATE: "时间条件",
    ConditionKind.THRESHOLD: "数量门槛",
    ConditionKind.ACHIEVABLE: "可达成",
}


def _walk(node: object):
    if isinstance(node, Node):
        yield node
        for value in vars(node).values():
            yield from _walk(value)
    elif isinstance(node, tuple):
        for item in node:
            yield from _walk(item)


def time_dependent(node: Node) -> bool:
    """True when the truth of the expression can change with the evaluation day alone."""
    return any(isinstance(n, Call) and n.func in _TIME_FUNCTIONS for n in _walk(node))


def inferred_scope(node: Node) -> bool:
    """Who the policy is for, read from the expression when the file does not say.

    A bare yes/no field (高新技术企业, 规模以上企业) is a status conferred by a certification or a
    register: the policy is for those who hold it. A membership or prefix test on a category, region
    or code (企业规模 in [...], within(注册地, ...), starts_with(行业代码, "C")) says what kind of
    entity, and where. An `and` of such tests is one too. A negation (`not 欠税`) is a fault the
    entity can remedy, and numbers and dates have gaps: neither is scope unless the file says so.
    """
    match node:
        case FieldRef(type=ValueType.BOOL):
            return True
        case Compare(op="==", left=FieldRef(type=ValueType.BOOL), right=Literal(value=True)):
            return True  # `特困供养 == true` says what the bare field says
        case In(negated=False):
            return True
        case Call(func="within" | "starts_with"):
            return True
        case Compare(op="==", left=left, right=right):
            return {left.type, right.type} <= {ValueType.TEXT, ValueType.REGION}
        case BoolOp(op="and", items=items):
            return all(inferred_scope(item) for item in items)
    return False


def thresholds(node: Node) -> tuple[Compare, ...] | None:
    """The numeric comparisons a threshold condition is made of (an `and` of them, e.g. between)."""
    parts = node.items if isinstance(node, BoolOp) and node.op == "and" else (node,)
    if not all(
        isinstance(p, Compare)
        and p.op in ORDERING
        and p.left.type in NUMERIC
        and p.right.type in NUMERIC
        for p in parts
    ):
        return None
    return parts  # type: ignore[return-value]


@dataclass(frozen=True)
class DateRule:
    """The condition holds from `base + years + months` (moved on a day when the month is shorter,
    as full years and months are counted), plus one day when the comparison is strict."""

    base: Node  # a date expression that does not depend on the evaluation day
    years: int = 0
    months: int = 0
    strict: bool = False


def _duration(node: Node) -> tuple[int, int] | None:
    if isinstance(node, Literal) and isinstance(node.value, Decimal):
        n = int(node.value)
        return (n, 0) if node.type is ValueType.YEARS else (0, n)
    return None


def _today_offset(node: Node) -> tuple[int, int] | None:
    """(years, months) added to today() by `today()`, `today() - 2年`, `today() + 3个月`."""
    if isinstance(node, Call) and node.func == "today":
        return (0, 0)
    if (
        isinstance(node, Arith)
        and node.op in "+-"
        and isinstance(node.left, Call)
        and node.left.func == "today"
    ):
        found = _duration(node.right)
        if found is None:
            return None
        sign = -1 if node.op == "+" else 1  # today() - k >= E  ⇔  today() >= E + k
        return (sign * found[0], sign * found[1])
    return None


def date_rule(node: Node) -> DateRule | None:
    """The day a time condition starts to hold, for the forms that only become true as time passes:
    `years_since(E) >= n`, `months_since(E) >= n`, `E <= today()`, `E <= today() - k` (either way
    round). Forms that stop holding as time passes (`years_since(E) < 3年`) have none."""
    if not isinstance(node, Compare) or node.op not in ORDERING:
        return None
    op, left, right = node.op, node.left, node.right
    if time_dependent(right) and not time_dependent(left):
        op, left, right = _MIRROR[op], right, left
    if time_dependent(right):
        return None
    # now the time side is on the left
    if (
        isinstance(left, Call)
        and left.func in ("years_since", "months_since")
        and op in (">=", ">")
    ):
        base = left.args[0]
        if time_dependent(base) or not isinstance(right, Literal | ParamRef):
            return None
        if not isinstance(right, Literal) or not isinstance(right.value, Decimal):
            return None  # a parameter's value depends on the day: not worth inverting
        n = right.value
        whole = int(n.to_integral_value(rounding="ROUND_CEILING"))
        if op == ">":
            whole = int(n.to_integral_value(rounding="ROUND_FLOOR")) + 1
        whole = max(whole, 0)
        if left.func == "years_since":
            return DateRule(base, years=whole)
        return DateRule(base, months=whole)
    offset = _today_offset(left)
    if offset is not None and op in (">=", ">") and right.type is ValueType.DATE:
        # today() + off >= E  ⇔  today() >= E - off
        return DateRule(right, years=offset[0], months=offset[1], strict=op == ">")
    return None


@dataclass(frozen=True)
class Analysis:
    """What is known about a condition from its text alone (computed once per condition)."""

    kind: ConditionKind
    parts: tuple[Compare, ...] = ()  # threshold comparisons
    rule: DateRule | None = None  # date: the day it will hold


@cache
def analyse(node: Node, scope: bool) -> Analysis:
    if scope:
        return Analysis(ConditionKind.SCOPE)
    if time_dependent(node):
        return Analysis(ConditionKind.DATE, rule=date_rule(node))
    parts = thresholds(node)
    if parts is not None:
        return Analysis(ConditionKind.THRESHOLD, parts=parts)
    return Analysis(ConditionKind.ACHIEVABLE)


@dataclass(frozen=True)
class Gap:
    """How far one entity is from one condition (for a condition that holds: closeness 1)."""

    kind: ConditionKind
    holds: bool | None
    closeness: Decimal | None = None  # threshold: 0–1, four places; None when not measurable
    shortfall: Decimal | None = None  # threshold: how much more (or less) is needed
    value_type: ValueType | None = None
    value: Decimal | None = None  # threshold: the value of the first missed comparison
    threshold: Decimal | None = None  # … and what it is compared with
    holds_on: date | None = None  # date: the day it will hold with no change

    def describe(self) -> str:
        """The gap in a sentence an officer can tell the entity: 还差 50万元（已达门槛的 97.5%）."""
        if self.holds is None:
            return "信息不全，无法判断"
        if self.holds:
            return "已满足"
        if self.kind is ConditionKind.SCOPE:
            return "不在适用范围内"
        if self.kind is ConditionKind.DATE:
            return f"{self.holds_on.isoformat()} 起满足" if self.holds_on else "随时间推移不会满足"
        if self.kind is ConditionKind.THRESHOLD and self.shortfall is not None:
            percent = format_value(self.closeness, ValueType.RATIO)
            shortfall = format_value(self.shortfall, self.value_type)
            if self.value_type is ValueType.RATIO:
                shortfall = f"{(self.shortfall * 100).normalize():f}个百分点"
            return f"还差 {shortfall}（已达门槛的 {percent}）"
        return "未满足，可通过整改达成"


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    """numerator / denominator in [0, 1] to four places, as the compiled SQL rounds it."""
    if denominator <= 0 or numerator <= 0:
        return Decimal(0)
    quotient = (numerator / denominator).quantize(QUOTIENT_PLACES, rounding=ROUND_HALF_UP)
    return min(quotient.quantize(CLOSENESS_PLACES, rounding=ROUND_HALF_UP), Decimal(1))


def part_closeness(op: str, value: Decimal, threshold: Decimal) -> Decimal:
    """How close a missed comparison is: value/threshold for ≥, threshold/value for ≤ (never 1)."""
    raw = ratio(value, threshold) if op in (">=", ">") else ratio(threshold, value)
    return min(raw, ALMOST)


def holds_on(rule: DateRule, evaluate: Evaluator) -> date | None:
    base = evaluate(rule.base)
    if not isinstance(base, date):
        return None
    day = base + relativedelta(years=rule.years, months=rule.months)
    if day.day < base.day:  # a shorter month: the full year or month is counted the day after
        day += timedelta(days=1)
    return day + timedelta(days=1) if rule.strict else day


def gap(analysis: Analysis, result: bool | None, evaluate: Evaluator) -> Gap:
    """The gap of one condition whose result (true, false, unknown) is already known."""
    if result is None or result is True:
        return Gap(analysis.kind, result, Decimal(1) if result else None)
    if analysis.kind is ConditionKind.DATE:
        day = holds_on(analysis.rule, evaluate) if analysis.rule else None
        return Gap(analysis.kind, False, holds_on=day if day and day > evaluate.as_of else None)
    if analysis.kind is ConditionKind.THRESHOLD:
        closest: Decimal | None = None
        first: tuple[Compare, Decimal, Decimal] | None = None
        for part in analysis.parts:
            if evaluate(part) is not False:
                continue
            left, right = evaluate(part.left), evaluate(part.right)
            assert isinstance(left, Decimal) and isinstance(right, Decimal)
            c = part_closeness(part.op, left, right)
            closest = c if closest is None else min(closest, c)
            first = first or (part, left, right)
        if first is None:  # pragma: no cover - a false `and` has a false part
            return Gap(analysis.kind, False)
        part, left, right = first
        shortfall = right - left if part.op in (">=", ">") else left - right
        vtype = part.left.type if part.left.type is not ValueType.NUMBER else part.right.type
        return Gap(analysis.kind, False, closest, shortfall, vtype, left, right)
    return Gap(analysis.kind, False)


def row_closeness(gaps: list[Gap]) -> Decimal | None:
    """One entity's closeness to a policy, for ranking an outreach list; None when not a candidate.

    A candidate meets every scope condition (known and true) and misses at least one condition it can
    act on; its closeness is the lowest of its missed thresholds (a missed yes/no it can remedy, or a
    date that will come, does not lower it; a date that never comes makes it 0).
    """
    if any(g.kind is ConditionKind.SCOPE and g.holds is not True for g in gaps):
        return None
    missed = [g for g in gaps if g.holds is False]
    if not missed or all(g.kind is ConditionKind.DATE for g in missed):
        return None
    lowest = Decimal(1)
    for g in missed:
        if g.kind is ConditionKind.THRESHOLD and g.closeness is not None:
            lowest = min(lowest, g.closeness)
        elif g.kind is ConditionKind.DATE and g.holds_on is None:
            lowest = Decimal(0)
    return lowest


def row_holds_on(gaps: list[Gap]) -> date | None:
    """The day every missed condition holds with no change, when each is a date that will come."""
    missed = [g for g in gaps if g.holds is False]
    if any(g.holds is None for g in gaps):
        return None  # a fact is missing: it may qualify, but no one can say
    if not missed or any(g.kind is not ConditionKind.DATE or g.holds_on is None for g in missed):
        return None
    return max(g.holds_on for g in missed if g.holds_on)
