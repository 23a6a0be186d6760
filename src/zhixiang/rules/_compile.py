"""Compile a checked expression into an Ibis expression, so one policy runs on any engine Ibis reaches.

The tree is engine-neutral; DuckDB, PostgreSQL or Spark is chosen by whoever executes the result.
SQL NULL carries *unknown*, and SQL's three-valued AND/OR is the same Kleene logic as `_evaluate`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir

from zhixiang.rules._gap import (
    ALMOST,
    NEAR_MISS_CLOSENESS,
    ConditionKind,
    DateRule,
)
from zhixiang.rules._groups import MEMBERS
from zhixiang.rules._language import (
    Aggregate,
    Arith,
    BoolOp,
    Call,
    Compare,
    FieldRef,
    In,
    Literal,
    Neg,
    Node,
    Not,
    ParamRef,
    RoleRef,
    Value,
    ValueType,
    group_refs,
)
from zhixiang.rules._policy import AMOUNT_ID, Policy

# Decimals keep their natural scale (money 2, ratios 6, a literal its own digits): exact, and cheap
# for engines, which slow down badly on wide high-scale decimals. Only quotients are rounded (at the
# 10th decimal, as `_evaluate` does), because engines divide decimals in floating point.
QUOTIENT = dt.Decimal(38, 10)
# Counts are held as 16-digit decimals; no mixed-type result gets fewer than 14 whole digits (10¹⁴ 元),
# and a literal keeps its own few digits, so money with a constant stays within 18 digits (64 bits).
_INTEGER_AS_DECIMAL = dt.Decimal(16, 0)
_MIN_WHOLE_DIGITS = 14


def _natural_type(value: Decimal) -> dt.Decimal:
    if int(value.as_tuple().exponent) > 0:
        value = value.quantize(Decimal(1))
    _, digits, exponent = value.as_tuple()
    scale = max(0, -int(exponent))
    return dt.Decimal(min(38, max(len(digits), scale, 1)), scale)


def _as_decimal_type(dtype: dt.DataType) -> dt.Decimal:
    return dtype if isinstance(dtype, dt.Decimal) else _INTEGER_AS_DECIMAL


def _common(*values: ir.Value) -> list[ir.Value]:
    """The values in one decimal type, wide and precise enough for each (Ibis requires one type)."""
    types = [_as_decimal_type(v.type()) for v in values]
    scale = max(t.scale for t in types)
    whole = max(_MIN_WHOLE_DIGITS, *(t.precision - t.scale for t in types))
    if whole + scale > 18 and 18 - scale >= _MIN_WHOLE_DIGITS:
        whole = 18 - scale  # stay in 64 bits; a value that does not fit stops the run, loudly
    target = dt.Decimal(min(38, whole + scale), scale)
    return [v if v.type() == target else v.cast(target) for v in values]


def literal(value: Value) -> ir.Value:
    """An Ibis literal typed so that no engine turns exact money into a float."""
    if isinstance(value, bool):
        return ibis.literal(value, type="boolean")
    if isinstance(value, Decimal):
        return ibis.literal(value, type=_natural_type(value))
    if isinstance(value, date):
        return ibis.literal(value, type="date")
    if value is None:
        return ibis.null()
    return ibis.literal(str(value), type="string")


def _literal_like(value: Decimal, other: ir.Value) -> ir.Value:
    """A numeric literal in the type of the column it is compared with, so the engine compares natively."""
    otype = other.type()
    if otype.is_integer() and value == value.to_integral_value():
        return ibis.literal(int(value), type=otype)
    if otype.is_decimal():
        _, digits, exponent = value.normalize().as_tuple()
        scale = max(0, -int(exponent))
        whole = len(digits) - scale
        if scale <= otype.scale and whole <= otype.precision - otype.scale:
            return ibis.literal(value, type=otype)
    return literal(value)


def _exact_narrow(result: ir.Value, scale: int) -> ir.Value:
    """The sum or product in 18 digits (64 bits) while that leaves at least 12 whole ones (1万亿元).

    Engines widen every sum and product (DECIMAL(18,2) × DECIMAL(18,2) is DECIMAL(36,4)); in DuckDB
    what follows then runs on 128-bit integers, about 8× slower. A value too large for the narrow type
    stops the run with an overflow error; it is never rounded. The cast is forced because Ibis
    believes the wider type is already this one and would drop it.
    """
    target = dt.Decimal(18 if scale <= 6 else 38, scale)
    return ops.Cast(result, to=target).to_expr()


def _null_unless_all_known(args: list[ir.Value], result: ir.Value) -> ir.Value:
    unknown = functools.reduce(lambda a, b: a | b, (a.isnull() for a in args))
    return ibis.cases((unknown, ibis.null(result.type())), else_=result)


BIRTH_YEAR, BIRTH_MONTH_DAY = "_birth_year", "_birth_md"


def _birth_parts(table: ir.Table) -> tuple[ir.Value, ir.Value]:
    """Year and month×100+day of birth: from 出生日期, or else from 身份证号 digits 7–14."""
    columns = table.columns
    year: ir.Value | None = None
    month_day: ir.Value | None = None
    if "birth_date" in columns:
        born = table["birth_date"]
        year = born.year().cast("int64")
        month_day = (born.month() * 100 + born.day()).cast("int64")
    if "id_number" in columns:
        id_number = table["id_number"]
        valid = (id_number.length() == 18) & id_number.substr(6, 8).re_search(r"^[0-9]{8}$")
        id_year = ibis.cases(
            (valid, id_number.substr(6, 4).cast("int64")), else_=ibis.null("int64")
        )
        id_md = ibis.cases((valid, id_number.substr(10, 4).cast("int64")), else_=ibis.null("int64"))
        year = id_year if year is None else year.coalesce(id_year)
        month_day = id_md if month_day is None else month_day.coalesce(id_md)
    if year is None or month_day is None:
        return ibis.null("int64"), ibis.null("int64")
    return year, month_day


def birth_columns(table: ir.Table) -> dict[str, ir.Value]:
    """The birth year and month-day as two integer columns, for a table to carry once.

    `年龄` then costs two integer comparisons per row, where deriving it from 出生日期 or the
    身份证号 (a regular expression and three casts) each time a policy reads it cost a scan's worth.
    """
    year, month_day = _birth_parts(table)
    return {BIRTH_YEAR: year, BIRTH_MONTH_DAY: month_day}


class Compiler:
    """Builds Ibis expressions over one entity table, with parameters fixed for one evaluation date."""

    def __init__(
        self,
        table: ir.Table,
        params: Mapping[str, Value],
        as_of: date,
        groups: Mapping[Node, str] | None = None,
    ) -> None:
        self.table = table
        self.params = params
        self.as_of = as_of
        self.groups = groups or {}

    def __call__(self, node: Node) -> ir.Value:
        match node:
            case Literal(value=value):
                return literal(value)
            case FieldRef(field=field):
                if field.name == "age" and "age" not in self.table.columns:
                    return self._age()
                return self.table[field.name]
            case Aggregate() | RoleRef():
                return self.table[self.groups[node]]
            case ParamRef(name=name):
                return literal(self.params[name])
            case Neg(arg=arg):
                return -self(arg)
            case Not(arg=arg):
                # `x = FALSE` is NOT x in three-valued logic, and unlike NOT it cannot be mis-bracketed
                # when an engine's SQL later wraps it in IS NULL.
                return self(arg) == ibis.literal(False)
            case BoolOp(op=op, items=items):
                parts = [self(item) for item in items]
                if op == "and":
                    return functools.reduce(lambda a, b: a & b, parts)
                return functools.reduce(lambda a, b: a | b, parts)
            case Compare(op=op, left=left, right=right):
                return _COMPARE[op](*self._comparable(left, right))
            case In(value=value, items=items, negated=negated):
                column = self(value)
                options = [
                    _literal_like(item.value, column)
                    if isinstance(item.value, Decimal)
                    else literal(item.value)
                    for item in items
                    if isinstance(item, Literal)
                ]
                return column.notin(options) if negated else column.isin(options)
            case Arith():
                return self._arith(node)
            case Call():
                return self._call(node)
        raise TypeError(f"cannot compile {node!r}")  # pragma: no cover

    def _age(self) -> ir.Value:
        """Whole years on the evaluation date, from the birth columns where the table has them."""
        if BIRTH_YEAR in self.table.columns and BIRTH_MONTH_DAY in self.table.columns:
            year, month_day = self.table[BIRTH_YEAR], self.table[BIRTH_MONTH_DAY]
        else:
            year, month_day = _birth_parts(self.table)
        today = self.as_of
        later = month_day > (today.month * 100 + today.day)
        return (today.year - year - later.ifelse(1, 0)).cast("int64")

    def _constant(self, node: Node) -> Value:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, ParamRef):
            return self.params[node.name]
        return None

    def _comparable(self, left: Node, right: Node) -> tuple[ir.Value, ir.Value]:
        if isinstance(constant := self._constant(right), Decimal):
            column = self(left)
            return column, _literal_like(constant, column)
        if isinstance(constant := self._constant(left), Decimal):
            column = self(right)
            return _literal_like(constant, column), column
        a, b = self(left), self(right)
        if a.type().is_numeric() and b.type().is_numeric() and a.type() != b.type():
            a, b = _common(a, b)
        return a, b

    def _arith(self, node: Arith) -> ir.Value:
        if node.type is not ValueType.DATE:
            left, right = _common(self(node.left), self(node.right))
            if node.op in "+-*":
                scale = _as_decimal_type(left.type()).scale * (2 if node.op == "*" else 1)
                result = (
                    left * right
                    if node.op == "*"
                    else left + right
                    if node.op == "+"
                    else left - right
                )
                return _exact_narrow(result, scale)
            # Engines divide decimals in floating point: round to 10 places, then back to exact.
            safe = ibis.cases((right == 0, ibis.null(right.type())), else_=right)
            return (left / safe).round(10).cast(QUOTIENT)
        left = self(node.left)
        if node.type is ValueType.DATE:
            amount = int(self._constant(node.right))  # type: ignore[arg-type]
            unit = "years" if node.right.type is ValueType.YEARS else "months"
            delta = ibis.interval(**{unit: amount})
        return left + delta if node.op == "+" else left - delta

    def _call(self, node: Call) -> ir.Value:
        func = node.func
        if func == "today":
            return literal(self.as_of)
        args = [self(n) for n in node.args]
        numeric = [a for a in args if a.type().is_numeric()]
        if len(numeric) > 1:
            unified = iter(_common(*numeric))
            args = [next(unified) if a.type().is_numeric() else a for a in args]
        if func == "if":
            condition, yes, no = args
            return ibis.cases(
                (condition.isnull(), ibis.null(yes.type())), (condition, yes), else_=no
            )
        if func == "is_known":
            return args[0].notnull()
        if func in ("min", "max"):
            pick = ibis.least if func == "min" else ibis.greatest
            return _null_unless_all_known(args, pick(*args))
        if func == "years_since":
            d, today = args[0], self.as_of
            later_in_year = (d.month() * 100 + d.day()) > (today.month * 100 + today.day)
            return today.year - d.year() - later_in_year.ifelse(1, 0)
        if func == "months_since":
            d, today = args[0], self.as_of
            return (
                (today.year - d.year()) * 12
                + today.month
                - d.month()
                - (d.day() > today.day).ifelse(1, 0)
            )
        if func in ("within", "starts_with"):
            return args[0].startswith(args[1])
        raise TypeError(f"unknown function {func}")  # pragma: no cover


_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


CLOSENESS = dt.Decimal(9, 4)
_BOUNDED_QUOTIENT = dt.Decimal(18, 10)  # a quotient bounded by 2 fits in 64 bits
_NO_DAY = date(1, 1, 1)


def _ratio(numerator: ir.Value, denominator: ir.Value) -> ir.Value:
    """numerator / denominator in [0, ALMOST] to four places, as `_gap.part_closeness` gives it.

    Read only where its part is missed, so both sides are known: inside that CASE an engine divides
    for the rows that missed (a scope or another condition already failed most rows), not for every
    entity; each value is read once, so no engine repeats the division.
    """
    n, d = _common(numerator, denominator)
    zero, almost = literal(Decimal(0)).cast(CLOSENESS), literal(ALMOST).cast(CLOSENESS)
    safe = ibis.cases((d <= 0, ibis.null(d.type())), else_=d)
    # Only [0, 1] matters (above 1 is 1): bounded by 2, the quotient is cast (which rounds it to ten
    # places) and rounded in 64 bits (a 128-bit decimal costs DuckDB ~10× more to round, ~2× to cast).
    bounded = ibis.least(n / safe, literal(Decimal(2))).cast(_BOUNDED_QUOTIENT)
    quotient = bounded.round(4).cast(CLOSENESS)
    return ibis.cases(((d <= 0) | (n <= 0), zero), else_=ibis.least(quotient, almost))


@dataclass(frozen=True)
class _Gaps:
    """Per condition: closeness and shortfall of a missed threshold, the day a missed date holds."""

    closeness: list[ir.Value | None]
    shortfall: list[ir.Value | None]
    holds_on: list[ir.Value | None]


def _as_date(value: ir.Value) -> ir.Value:
    """A forced cast: engines make date + interval a timestamp while Ibis believes it is a date
    (and would drop a plain cast)."""
    return ops.Cast(value, to=dt.date).to_expr()


def _holds_on(compile_node: Compiler, rule: DateRule) -> ir.Value:
    base = _as_date(compile_node(rule.base))
    day = base
    if rule.years:
        day = _as_date(base + ibis.interval(years=rule.years))
    elif rule.months:
        day = _as_date(base + ibis.interval(months=rule.months))
    one_day = ibis.interval(days=1)
    day = _as_date(ibis.cases((day.day() < base.day(), _as_date(day + one_day)), else_=day))
    return _as_date(day + one_day) if rule.strict else day


def _gap_inputs(policy: Policy, compile_node: Compiler, prefix: str = "") -> dict[str, ir.Value]:
    """Columns over the entity table that the gaps are computed from (staged with the conditions)."""
    columns: dict[str, ir.Value] = {}
    for i, condition in enumerate(policy.conditions):
        analysis = condition.analysis
        if analysis.kind is ConditionKind.THRESHOLD:
            for j, part in enumerate(analysis.parts):
                left, right = _common(compile_node(part.left), compile_node(part.right))
                columns[f"{prefix}g{i}_{j}_l"], columns[f"{prefix}g{i}_{j}_r"] = left, right
                columns[f"{prefix}g{i}_{j}_m"] = compile_node(part)
        elif analysis.kind is ConditionKind.DATE and analysis.rule is not None:
            # Only a missed date has a day it will hold: inside the CASE an engine does the costly
            # date arithmetic for those rows alone (at 1M rows: 127 ms for all, 42 for a sixth).
            missed = (compile_node(condition.node) == ibis.literal(False)).fill_null(False)
            day = _holds_on(compile_node, analysis.rule)
            columns[f"{prefix}g{i}_day"] = ibis.cases((missed, day), else_=ibis.null("date"))
    return columns


def _gaps(policy: Policy, staged: ir.Table, failed: list, as_of: date, prefix: str = "") -> _Gaps:
    closeness: list[ir.Value | None] = []
    shortfall: list[ir.Value | None] = []
    holds_on: list[ir.Value | None] = []
    for i, condition in enumerate(policy.conditions):
        analysis = condition.analysis
        c = s = h = None
        if analysis.kind is ConditionKind.THRESHOLD:
            parts = []
            for j, part in enumerate(analysis.parts):
                missed = (staged[f"{prefix}g{i}_{j}_m"] == ibis.literal(False)).fill_null(False)
                left, right = staged[f"{prefix}g{i}_{j}_l"], staged[f"{prefix}g{i}_{j}_r"]
                up = part.op in (">=", ">")
                ratio = _ratio(left, right) if up else _ratio(right, left)
                parts.append((missed, ratio, right - left if up else left - right))
            one = literal(Decimal(1)).cast(CLOSENESS)
            each = [ibis.cases((m, r), else_=one) for m, r, _ in parts]
            c = ibis.least(*each) if len(each) > 1 else each[0]  # Spark's least needs two
            c = ibis.cases((failed[i], c), else_=ibis.null(CLOSENESS))
            s = ibis.cases(*((m, d) for m, _, d in parts), else_=ibis.null(parts[0][2].type()))
            s = ibis.cases((failed[i], s), else_=ibis.null(s.type()))
        elif analysis.kind is ConditionKind.DATE and analysis.rule is not None:
            day = staged[f"{prefix}g{i}_day"]
            h = ibis.cases((failed[i] & (day > literal(as_of)), day), else_=ibis.null("date"))
        closeness.append(c)
        shortfall.append(s)
        holds_on.append(h)
    return _Gaps(closeness, shortfall, holds_on)


def _row_gap(
    policy: Policy, staged: ir.Table, names: list[str], failed: list, unknown: list, gaps: _Gaps
) -> tuple[ir.Value, ir.Value]:
    """The row's closeness and 即将符合 day, as `_gap.row_closeness` and `row_holds_on` define them."""
    kinds = [c.analysis.kind for c in policy.conditions]
    one = literal(Decimal(1)).cast(CLOSENESS)
    zero = literal(Decimal(0)).cast(CLOSENESS)
    scope_ok: ir.BooleanValue = ibis.literal(True)
    acts: ir.BooleanValue = ibis.literal(False)  # misses something it can act on
    lowest = [one]
    for i, kind in enumerate(kinds):
        if kind is ConditionKind.SCOPE:
            scope_ok = scope_ok & (staged[names[i]] == ibis.literal(True)).fill_null(False)
        if kind is not ConditionKind.DATE:
            acts = acts | failed[i]
        close, day = gaps.closeness[i], gaps.holds_on[i]
        if close is not None:
            lowest.append(close.fill_null(one))
        elif kind is ConditionKind.DATE:
            never = failed[i] if day is None else failed[i] & day.isnull()
            lowest.append(ibis.cases((never, zero), else_=one))
    closeness = ibis.cases(
        (scope_ok & acts, ibis.least(*lowest) if len(lowest) > 1 else one),
        else_=ibis.null(CLOSENESS),
    )
    any_failed = functools.reduce(lambda a, b: a | b, failed)
    any_unknown = functools.reduce(lambda a, b: a | b, unknown)
    waits = [(i, h) for i, h in enumerate(gaps.holds_on) if h is not None]
    if not waits:
        return closeness, ibis.null("date")
    blocked = any_unknown
    for i, kind in enumerate(kinds):
        day = gaps.holds_on[i]
        if kind is not ConditionKind.DATE or day is None:
            blocked = blocked | failed[i]
        else:
            blocked = blocked | (failed[i] & day.isnull())
    latest = (
        ibis.greatest(*(h.fill_null(_NO_DAY) for _, h in waits)) if len(waits) > 1 else waits[0][1]
    )
    holds_on = ibis.cases((any_failed & ~blocked, _as_date(latest)), else_=ibis.null("date"))
    return closeness, holds_on


@dataclass(frozen=True)
class _Outcomes:
    """A policy's per-entity outcomes as expressions over its staged table (one column per condition)."""

    staged: ir.Table
    failed: list[ir.BooleanValue]
    unknown: list[ir.BooleanValue]  # with the amount's flag last, when the policy has a benefit
    n_failed: ir.IntegerValue
    any_unknown: ir.BooleanValue
    amount: ir.Value  # the amount as paid, if eligible
    gaps: _Gaps
    closeness: ir.Value  # outreach closeness of the row (NULL: not a near-miss candidate)
    holds_on: ir.Value  # 即将符合: the day it qualifies with no change (NULL: none)


GroupItem = tuple[Aggregate | RoleRef, Mapping[str, Value]]  # a member read and its policy's params


def _shape(node: object, params: Mapping[str, Value]) -> object:
    """A node's meaning without its source positions, so two policies that read the same member
    value share one column (parameters by their value on the evaluation date)."""
    if isinstance(node, ParamRef):
        return ("param", node.name, repr(params.get(node.name)))
    if isinstance(node, FieldRef):
        return ("field", node.field.name)
    if isinstance(node, Node):
        return (
            type(node).__name__,
            *(
                _shape(getattr(node, f.name), params)
                for f in dataclasses.fields(node)
                if f.name != "span"
            ),
        )
    if isinstance(node, tuple):
        return tuple(_shape(item, params) for item in node)
    return node


def _group_columns(
    items: list[GroupItem],
    table: ir.Table,
    members: ir.Table,
    key: str,
    as_of: date,
) -> tuple[ir.Table, list[str]]:
    """The entity table with one column per aggregate or role value over its members.

    Every aggregate of every policy is one GROUP BY over the members (keyed by `household_id`),
    role values one join per role; unknown members are counted so the result is NULL (unknown)
    exactly where the one-household evaluator says unknown. Returns the column name of each item.
    """
    names: list[str] = []
    per_row: dict[str, ir.Value] = {}
    finals: list[tuple[str, Aggregate]] = []
    roles: dict[str, list[tuple[str, RoleRef, Mapping[str, Value]]]] = {}
    for i, (node, params) in enumerate(items):
        name = f"_g{i}"
        names.append(name)
        if isinstance(node, RoleRef):
            roles.setdefault(node.role, []).append((name, node, params))
            continue
        member = Compiler(members, params, as_of)
        in_group = (
            ibis.literal(True)
            if node.group == MEMBERS
            else members["role"] == ibis.literal(node.group)
        )
        where = in_group if node.where is None else in_group & member(node.where)
        if node.func == "count":
            per_row[f"{name}_n"] = where.ifelse(1, 0).fill_null(0)
            per_row[f"{name}_u"] = where.isnull().ifelse(1, 0)
        elif node.func in ("sum", "max", "min"):
            value = member(node.value)  # type: ignore[arg-type]
            per_row[f"{name}_v"] = ibis.cases((where, value), else_=ibis.null(value.type()))
            per_row[f"{name}_u"] = ibis.cases(
                (where.isnull(), 1), (where & value.isnull(), 1), else_=0
            )
        else:
            value = member(node.value)  # type: ignore[arg-type]
            flag = where & value if node.func == "any" else (where == ibis.literal(False)) | value
            decided = flag if node.func == "any" else flag == ibis.literal(False)
            per_row[f"{name}_n"] = ibis.cases((decided, 1), else_=0)
            per_row[f"{name}_u"] = flag.isnull().ifelse(1, 0)
        finals.append((name, node))
    joined = table
    if per_row:
        rows = members.select(_gk=members["household_id"], **per_row)
        aggs: dict[str, ir.Value] = {}
        for column in per_row:
            if column.endswith("_v"):
                func = next(n.func for nm, n in finals if column == f"{nm}_v")
                aggs[column] = getattr(rows[column], func)()
            else:
                aggs[column] = rows[column].sum()
        grouped = rows.group_by("_gk").aggregate(**aggs)
        joined = joined.left_join(grouped, joined[key] == grouped["_gk"]).select(
            *table.columns, *aggs
        )
    for role, refs in roles.items():
        holders = members.filter(members["role"] == ibis.literal(role))
        picked = holders.select(
            _gk=holders["household_id"],
            **{name: Compiler(holders, params, as_of)(node.value) for name, node, params in refs},
        )
        kept = joined.columns
        joined = joined.left_join(picked, joined[key] == picked["_gk"]).select(
            *kept, *(name for name, _, _ in refs)
        )
    results: dict[str, ir.Value] = {}
    for name, node in finals:
        unknown = joined[f"{name}_u"].fill_null(0) > 0
        if node.func == "count":
            results[name] = ibis.cases(
                (unknown, ibis.null("int64")), else_=joined[f"{name}_n"].fill_null(0).cast("int64")
            )
        elif node.func == "sum":
            total = joined[f"{name}_v"]
            scale = _as_decimal_type(total.type()).scale if total.type().is_decimal() else 0
            exact = (
                _exact_narrow(total, scale) if total.type().is_decimal() else total.cast("int64")
            )
            zero = ibis.literal(0).cast(exact.type())
            results[name] = ibis.cases(
                (unknown, ibis.null(exact.type())), else_=exact.coalesce(zero)
            )
        elif node.func in ("max", "min"):
            value = joined[f"{name}_v"]
            results[name] = ibis.cases((unknown, ibis.null(value.type())), else_=value)
        elif node.func == "any":
            results[name] = ibis.cases(
                (joined[f"{name}_n"].fill_null(0) > 0, True),
                (unknown, ibis.null("boolean")),
                else_=False,
            )
        else:
            results[name] = ibis.cases(
                (joined[f"{name}_n"].fill_null(0) > 0, False),
                (unknown, ibis.null("boolean")),
                else_=True,
            )
    role_columns = [name for refs in roles.values() for name, _, _ in refs]
    return joined.select(*table.columns, *role_columns, **results), names


def _group_refs_of(policy: Policy) -> list[Aggregate | RoleRef]:
    nodes = [c.node for c in policy.conditions]
    if policy.benefit is not None:
        nodes.append(policy.benefit.node)
    return list(dict.fromkeys(ref for n in nodes for ref in group_refs(n)))


def _with_groups(
    policies: list[Policy], table: ir.Table, members: ir.Table | None, key: str, as_of: date
) -> tuple[ir.Table, list[dict[Node, str]]]:
    """The entity table with every member read of every policy (shared where two read the same),
    and per policy the column each of its reads landed in."""
    shared: dict[object, int] = {}
    items: list[GroupItem] = []
    wanted: list[list[tuple[Aggregate | RoleRef, int]]] = []
    for policy in policies:
        params = policy.params_at(as_of)
        mine = []
        for ref in _group_refs_of(policy):
            shape = _shape(ref, params)
            if shape not in shared:
                shared[shape] = len(items)
                items.append((ref, params))
            mine.append((ref, shared[shape]))
        wanted.append(mine)
    if not items:
        return table, [{} for _ in policies]
    if members is None:
        ids = "、".join(p.id for p, w in zip(policies, wanted, strict=True) if w)
        raise ValueError(f"政策 {ids} 汇总家庭成员，需要成员表（members）")
    table, names = _group_columns(items, table, members, key, as_of)
    return table, [{ref: names[i] for ref, i in mine} for mine in wanted]


def _stage(
    policy: Policy, table: ir.Table, as_of: date, groups: Mapping[Node, str], prefix: str
) -> dict[str, ir.Value]:
    """The policy's conditions, raw amount and gap inputs as columns over the entity table."""
    compile_node = Compiler(table, policy.params_at(as_of), as_of, groups)
    stage = {f"{prefix}c{i}": compile_node(c.node) for i, c in enumerate(policy.conditions)}
    if policy.benefit is not None:
        stage[f"{prefix}raw_amount"] = compile_node(policy.benefit.node)
    return stage | _gap_inputs(policy, compile_node, prefix)


def _outcomes(
    policy: Policy, table: ir.Table, as_of: date, key: str, members: ir.Table | None = None
) -> _Outcomes:
    """Conditions are computed once as columns; everything else reads those columns."""
    table, (groups,) = _with_groups([policy], table, members, key, as_of)
    staged = table.select(entity_id=table[key], **_stage(policy, table, as_of, groups, ""))
    return _read_outcomes(policy, staged, as_of, "")


def _read_outcomes(policy: Policy, staged: ir.Table, as_of: date, prefix: str) -> _Outcomes:
    """A policy's outcomes over its staged columns and quotients (named with `prefix`)."""
    names = [f"{prefix}c{i}" for i in range(len(policy.conditions))]
    outcomes = [staged[name] for name in names]
    failed = [(o == ibis.literal(False)).fill_null(False) for o in outcomes]
    unknown = [o.isnull() for o in outcomes]
    gaps = _gaps(policy, staged, failed, as_of, prefix)
    closeness, holds_on = _row_gap(policy, staged, names, failed, unknown, gaps)
    n_failed = functools.reduce(lambda a, b: a + b, (_as_int(f) for f in failed))
    amount: ir.Value = ibis.null("decimal(18, 2)")
    if policy.benefit is not None:
        raw = staged[f"{prefix}raw_amount"]
        capped = raw
        if policy.benefit.cap is not None:
            raw_, cap = _common(raw, literal(policy.benefit.cap))
            capped = ibis.cases((raw_ > cap, cap), else_=raw_)
        capped, zero = _common(capped, literal(Decimal(0)))
        paid = ibis.cases((capped < 0, zero), else_=capped)
        amount = paid.round(2).cast(dt.Decimal(18, 2))
        unknown = [*unknown, (n_failed == 0) & raw.isnull()]
    any_unknown = functools.reduce(lambda a, b: a | b, unknown)
    return _Outcomes(
        staged, failed, unknown, n_failed, any_unknown, amount, gaps, closeness, holds_on
    )


def compile_policy(
    policy: Policy,
    table: ir.Table,
    as_of: date,
    *,
    key: str,
    with_ids: bool = True,
    members: ir.Table | None = None,
) -> ir.Table:
    """One row per entity: status, failed/unknown conditions (bit masks and, if asked, ids), amount.

    Bit i of a mask is condition i; the bit after the last condition is the benefit amount.
    A household policy also needs `members`: one row per member (household_id, role and the
    member's person facts, with owns_house/owned_area where the policy reads them).
    """
    o = _outcomes(policy, table, as_of, key, members)
    status = ibis.cases(
        (o.n_failed > 0, "ineligible"), (o.any_unknown, "needs_information"), else_="eligible"
    )
    columns: dict[str, ir.Value] = {
        "entity_id": o.staged["entity_id"],
        "policy_id": ibis.literal(policy.id, type="string"),
        "status": status,
        "n_failed": o.n_failed,
        "failed_mask": _mask(o.failed),
        "unknown_mask": _mask(o.unknown),
        # eligible as flags, not by comparing the status string (a string per row costs engines)
        "amount": ibis.cases(
            ((o.n_failed == 0) & ~o.any_unknown, o.amount), else_=ibis.null("decimal(18, 2)")
        ),
        "closeness": o.closeness,
        "holds_on": o.holds_on,
    }
    if with_ids:
        ids = [*policy.condition_ids(), AMOUNT_ID]
        columns["failed"] = _ids(ids, o.failed)
        columns["unknown"] = _ids(ids, o.unknown)
    return o.staged.select(**columns)


def compile_counts(
    policy: Policy, table: ir.Table, as_of: date, *, key: str, members: ir.Table | None = None
) -> ir.Table:
    """One row for the policy: how many entities are eligible, need information, fail, nearly pass.

    The same outcomes as `compile_policy`, aggregated where they are computed, so a count over
    millions of entities never materialises a row per entity.
    """
    o = _outcomes(policy, table, as_of, key, members)
    return o.staged.aggregate(policy_id=ibis.literal(policy.id, type="string"), **_counts(o))


COUNT_COLUMNS = ("eligible", "needs_information", "ineligible", "near_miss", "total_amount")


def _counts(o: _Outcomes) -> dict[str, ir.Value]:
    passed = o.n_failed == 0
    eligible = passed & ~o.any_unknown
    return {
        "eligible": _as_int(eligible).sum(),
        "needs_information": _as_int(passed & o.any_unknown).sum(),
        "ineligible": _as_int(~passed).sum(),
        "near_miss": _as_int((o.closeness >= literal(NEAR_MISS_CLOSENESS)).fill_null(False)).sum(),
        "total_amount": ibis.cases((eligible, o.amount), else_=ibis.null("decimal(18, 2)")).sum(),
    }


def compile_counts_many(
    policies: list[Policy],
    table: ir.Table,
    as_of: date,
    *,
    key: str,
    members: ir.Table | None = None,
) -> ir.Table:
    """One row for all `policies` of one entity kind: column `p{k}_{count}` is policy k's count
    (`COUNT_COLUMNS`), the same as `compile_counts` gives for that policy alone.

    One scan does them all: a single GROUP BY over the members computes every aggregate any policy
    reads (once, when two read the same), then one pass over the entities evaluates every policy.
    Per-policy queries would repeat the member join and the GROUP BY once per policy.
    """
    grouped, groups = _with_groups(policies, table, members, key, as_of)
    stage: dict[str, ir.Value] = {}
    for k, (policy, mine) in enumerate(zip(policies, groups, strict=True)):
        stage |= _stage(policy, grouped, as_of, mine, f"p{k}_")
    staged = grouped.select(**stage)
    columns: dict[str, ir.Value] = {}
    for k, policy in enumerate(policies):
        counts = _counts(_read_outcomes(policy, staged, as_of, f"p{k}_"))
        columns |= {f"p{k}_{name}": value for name, value in counts.items()}
    return staged.aggregate(**columns)


def compile_gaps(policy: Policy, table: ir.Table, as_of: date, *, key: str) -> ir.Table:
    """One row per entity with each condition's gap: `closeness_<id>`, `shortfall_<id>` (a missed
    threshold) and `holds_on_<id>` (a missed date that will come), beside the row's own two."""
    o = _outcomes(policy, table, as_of, key)
    columns: dict[str, ir.Value] = {"entity_id": o.staged["entity_id"]}
    for i, condition in enumerate(policy.conditions):
        for name, found in (
            ("closeness", o.gaps.closeness[i]),
            ("shortfall", o.gaps.shortfall[i]),
            ("holds_on", o.gaps.holds_on[i]),
        ):
            if found is not None:
                columns[f"{name}_{condition.id}"] = found
    columns |= {"closeness": o.closeness, "holds_on": o.holds_on}
    return o.staged.select(**columns)


def _as_int(flag: ir.BooleanValue) -> ir.IntegerValue:
    """1 or 0 for a flag that is never NULL (PostgreSQL cannot cast boolean to bigint)."""
    return flag.ifelse(1, 0).cast("int64")


def _mask(flags: list[ir.BooleanValue]) -> ir.IntegerValue:
    return functools.reduce(
        lambda a, b: a + b, (_as_int(f) * (1 << i) for i, f in enumerate(flags))
    )


def _ids(ids: list[str], flags: list[ir.BooleanValue]) -> ir.ArrayValue:
    """The ids whose flag is true, as an array (engines skip the NULLs we leave for false flags)."""
    items = [
        ibis.cases((flag, ibis.literal(cid, type="string")), else_=ibis.null("string"))
        for cid, flag in zip(ids, flags, strict=False)
    ]
    return ibis.array(items).filter(lambda x: x.notnull())
