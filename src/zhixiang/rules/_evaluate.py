"""Evaluate a checked expression for one entity, in exact decimals and three-valued logic.

None means *unknown* (a missing fact). The batch compiler (`_compile`) must give the same answers;
a property-based test holds the two to it.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from zhixiang.rules._groups import MEMBERS, MEMBERS_KEY, birth_date_of_id
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
)

QUOTIENT_PLACES = Decimal("1e-10")
_CONTEXT = decimal.Context(prec=38, rounding=decimal.ROUND_HALF_UP)


def full_years_between(start: date, end: date) -> int:
    """Whole years from `start` to `end`, as an age is counted."""
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def full_months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)


class Evaluator:
    """Evaluates nodes against one entity's facts (keyed by English field name) on a given date."""

    def __init__(
        self, facts: Mapping[str, Value], params: Mapping[str, Value], as_of: date
    ) -> None:
        self.facts = facts
        self.params = params
        self.as_of = as_of

    def __call__(self, node: Node) -> Value:
        with decimal.localcontext(_CONTEXT):
            return self.eval(node)

    def eval(self, node: Node) -> Value:
        match node:
            case Literal(value=value):
                return value
            case FieldRef(field=field):
                if field.name == "age" and self.facts.get("age") is None:
                    return self._age()
                return self.facts.get(field.name)
            case Aggregate():
                return self._aggregate(node)
            case RoleRef(role=role, value=value_node):
                holder = next((m for m in self.members() if m.get("role") == role), None)
                return None if holder is None else self.member(holder).eval(value_node)
            case ParamRef(name=name):
                return self.params[name]
            case Neg(arg=arg):
                value = self.eval(arg)
                return None if value is None else -value  # type: ignore[operator,return-value]
            case Not(arg=arg):
                value = self.eval(arg)
                return None if value is None else not value
            case BoolOp(op="and", items=items):
                values = [self.eval(item) for item in items]
                if any(v is False for v in values):
                    return False
                return None if any(v is None for v in values) else True
            case BoolOp(op="or", items=items):
                values = [self.eval(item) for item in items]
                if any(v is True for v in values):
                    return True
                return None if any(v is None for v in values) else False
            case Compare(op=op, left=left, right=right):
                return _compare(op, self.eval(left), self.eval(right))
            case In(value=value_node, items=items, negated=negated):
                value = self.eval(value_node)
                if value is None:
                    return None
                found = any(value == self.eval(item) for item in items)
                return found != negated
            case Arith():
                return self._arith(node)
            case Call():
                return self._call(node)
        raise TypeError(f"cannot evaluate {node!r}")  # pragma: no cover

    def _age(self) -> Value:
        born = self.facts.get("birth_date") or birth_date_of_id(self.facts.get("id_number"))
        if not isinstance(born, date):
            return None
        return Decimal(full_years_between(born, self.as_of))

    def members(self) -> Sequence[Mapping[str, Value]]:
        return self.facts.get(MEMBERS_KEY) or ()  # type: ignore[return-value]

    def member(self, facts: Mapping[str, Value]) -> Evaluator:
        return Evaluator(facts, self.params, self.as_of)

    def member_outcomes(self, node: Aggregate) -> list[tuple[Mapping[str, Value], Value, Value]]:
        """(member, where, value) for each member of the aggregate's group, in member order."""
        rows = []
        for m in self.members():
            if node.group != MEMBERS and m.get("role") != node.group:
                continue
            sub = self.member(m)
            where = True if node.where is None else sub.eval(node.where)
            value = None if node.value is None else sub.eval(node.value)
            rows.append((m, where, value))
        return rows

    def _aggregate(self, node: Aggregate) -> Value:
        """Three-valued aggregates: an unknown member makes the result unknown unless it cannot matter."""
        rows = self.member_outcomes(node)
        if node.func in ("any", "all"):
            # any: Kleene OR of (where AND value); all: Kleene AND of (NOT where OR value)
            if node.func == "any":
                flags = [_kleene_and(w, v) for _, w, v in rows]
                if any(f is True for f in flags):
                    return True
                return None if any(f is None for f in flags) else False
            flags = [_kleene_or(None if w is None else not w, v) for _, w, v in rows]
            if any(f is False for f in flags):
                return False
            return None if any(f is None for f in flags) else True
        if any(w is None for _, w, _ in rows):
            return None
        chosen = [v for _, w, v in rows if w]
        if node.func == "count":
            return Decimal(len(chosen))
        if any(v is None for v in chosen):
            return None
        if node.func == "sum":
            return sum(chosen, Decimal(0))  # type: ignore[arg-type,type-var]
        if not chosen:
            return None
        return max(chosen) if node.func == "max" else min(chosen)  # type: ignore[type-var]

    def _arith(self, node: Arith) -> Value:
        left, right = self.eval(node.left), self.eval(node.right)
        if left is None or right is None:
            return None
        if isinstance(left, date):
            delta = _duration(node.right.type, right)  # type: ignore[arg-type]
            return left + delta if node.op == "+" else left - delta
        assert isinstance(left, Decimal) and isinstance(right, Decimal)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        if right == 0:
            return None
        return (left / right).quantize(QUOTIENT_PLACES)

    def _call(self, node: Call) -> Value:
        func, args = node.func, node.args
        if func == "today":
            return self.as_of
        if func == "if":
            condition = self.eval(args[0])
            if condition is None:
                return None
            return self.eval(args[1] if condition else args[2])
        values = [self.eval(a) for a in args]
        if func == "is_known":
            return values[0] is not None
        if any(v is None for v in values):
            return None
        if func == "min":
            return min(values)  # type: ignore[type-var]
        if func == "max":
            return max(values)  # type: ignore[type-var]
        if func == "years_since":
            return Decimal(full_years_between(values[0], self.as_of))  # type: ignore[arg-type]
        if func == "months_since":
            return Decimal(full_months_between(values[0], self.as_of))  # type: ignore[arg-type]
        if func in ("within", "starts_with"):
            return str(values[0]).startswith(str(values[1]))
        raise TypeError(f"unknown function {func}")  # pragma: no cover


def _kleene_and(a: Value, b: Value) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _kleene_or(a: Value, b: Value) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _duration(vtype: ValueType | None, amount: Decimal) -> relativedelta:
    n = int(amount)
    return relativedelta(years=n) if vtype is ValueType.YEARS else relativedelta(months=n)


def _compare(op: str, left: Value, right: Value) -> bool | None:
    if left is None or right is None:
        return None
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op == ">=":
        return left >= right  # type: ignore[operator]
    if op == "<=":
        return left <= right  # type: ignore[operator]
    if op == ">":
        return left > right  # type: ignore[operator]
    return left < right  # type: ignore[operator]
