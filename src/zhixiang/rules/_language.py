"""The expression language: parse text into a typed tree, or say exactly where and why it is wrong.

Parsing uses Lark (a kept parser library); nothing is ever handed to Python's eval.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Protocol

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from zhixiang.catalog import Catalog, Field, FieldType
from zhixiang.identity import region_code_of, region_prefix
from zhixiang.rules._groups import MEMBERS, ROLES, SINGLE_ROLES


class ValueType(StrEnum):
    """What a value means, so that money is never compared with a date or a count."""

    BOOL = "布尔"
    NUMBER = "数值"
    MONEY = "金额"
    RATIO = "比例"
    DATE = "日期"
    YEARS = "年数"
    MONTHS = "月数"
    TEXT = "文本"
    REGION = "行政区划"


FIELD_VALUE_TYPES: dict[FieldType, ValueType] = {
    FieldType.BOOL: ValueType.BOOL,
    FieldType.INTEGER: ValueType.NUMBER,
    FieldType.DECIMAL: ValueType.NUMBER,
    FieldType.MONEY: ValueType.MONEY,
    FieldType.RATIO: ValueType.RATIO,
    FieldType.DATE: ValueType.DATE,
    FieldType.REGION: ValueType.REGION,
    FieldType.ENUM: ValueType.TEXT,
    FieldType.TEXT: ValueType.TEXT,
    FieldType.IDENTIFIER: ValueType.TEXT,
}

UNITS: dict[str, tuple[ValueType, Decimal]] = {
    "元": (ValueType.MONEY, Decimal(1)),
    "万元": (ValueType.MONEY, Decimal(10_000)),
    "亿元": (ValueType.MONEY, Decimal(100_000_000)),
    "%": (ValueType.RATIO, Decimal("0.01")),
    "年": (ValueType.YEARS, Decimal(1)),
    "月": (ValueType.MONTHS, Decimal(1)),
    "个月": (ValueType.MONTHS, Decimal(1)),
    "岁": (ValueType.NUMBER, Decimal(1)),
    "平方米": (ValueType.NUMBER, Decimal(1)),
    "人": (ValueType.NUMBER, Decimal(1)),
    "件": (ValueType.NUMBER, Decimal(1)),
    "家": (ValueType.NUMBER, Decimal(1)),
}

NUMERIC = {ValueType.NUMBER, ValueType.MONEY, ValueType.RATIO, ValueType.YEARS, ValueType.MONTHS}
Value = Decimal | date | str | bool | None


class ExpressionError(ValueError):
    """A mistake in an expression, with the 1-based column where it starts."""

    def __init__(self, message: str, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


# ---------------------------------------------------------------- tree


@dataclass(frozen=True)
class Node:
    """A node of the expression tree; `span` is its [start, end) in the source text."""

    span: tuple[int, int]
    type: ValueType | None = dataclasses.field(default=None, kw_only=True)


@dataclass(frozen=True)
class Literal(Node):
    value: Value


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class FieldRef(Node):
    field: Field


@dataclass(frozen=True)
class ParamRef(Node):
    name: str


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Neg(Node):
    arg: Node


@dataclass(frozen=True)
class Not(Node):
    arg: Node


@dataclass(frozen=True)
class Arith(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class In(Node):
    value: Node
    items: tuple[Node, ...]
    negated: bool = False


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # "and" | "or"
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Path(Node):
    """`成员.月收入` or `申请人.户籍地` as parsed, before the checker knows what the head names."""

    head: str
    attr: str
    attr_span: tuple[int, int]


@dataclass(frozen=True)
class Filtered(Node):
    """`成员 where 年龄 >= 60` as parsed: a set of members and the condition each must meet."""

    items: Node
    where: Node


@dataclass(frozen=True)
class Aggregate(Node):
    """sum/count/any/all/max/min over a household's members (`group` is 成员 or a role).

    `value` and `where` are member expressions: each is evaluated once per member.
    """

    func: str
    group: str
    value: Node | None
    where: Node | None


@dataclass(frozen=True)
class RoleRef(Node):
    """The value of a member expression for the one member holding a role (申请人, 配偶)."""

    role: str
    value: Node


# ---------------------------------------------------------------- parsing

_OP_ALIASES = {"=": "==", "≥": ">=", "≤": "<=", "≠": "!=", "×": "*", "÷": "/"}


def _span(meta_or_token: object) -> tuple[int, int]:
    return (meta_or_token.start_pos, meta_or_token.end_pos)  # type: ignore[attr-defined]


def _join(a: Node, b: Node) -> tuple[int, int]:
    return (a.span[0], b.span[1])


@v_args(meta=True)
class _ToTree(Transformer):
    """Turn Lark's parse tree into our nodes, desugaring chains and ranges."""

    def quantity(self, meta, children):
        token: Token = children[0]
        text = str(token)
        unit = next((u for u in sorted(UNITS, key=len, reverse=True) if text.endswith(u)), None)
        number = Decimal(text[: len(text) - len(unit)] if unit else text)
        if -number.as_tuple().exponent > 8:  # type: ignore[operator]
            raise ExpressionError(f"小数位过多: {text}（最多8位）", token.column)
        if unit is None:
            return Literal(_span(token), number, type=ValueType.NUMBER)
        vtype, factor = UNITS[unit]
        return Literal(_span(token), number * factor, type=vtype)

    def date(self, meta, children):
        token = children[0]
        try:
            y, m, d = (int(part) for part in str(token).split("-"))
            value = date(y, m, d)
        except ValueError as exc:
            raise ExpressionError(f"日期无效: {token}", token.column) from exc
        return Literal(_span(token), value, type=ValueType.DATE)

    def string(self, meta, children):
        token = children[0]
        return Literal(_span(token), str(token)[1:-1], type=ValueType.TEXT)

    def true(self, meta, children):
        return Literal(_span(meta), True, type=ValueType.BOOL)

    def false(self, meta, children):
        return Literal(_span(meta), False, type=ValueType.BOOL)

    def name(self, meta, children):
        return Name(_span(children[0]), str(children[0]))

    def path(self, meta, children):
        head, attr = children
        return Path(_span(meta), str(head), str(attr), _span(attr))

    def filtered(self, meta, children):
        return Filtered(_span(meta), children[0], children[1])

    def call(self, meta, children):
        func, *args = children
        return Call(_span(meta), str(func), tuple(a for a in args if a is not None))

    def list(self, meta, children):
        return tuple(c for c in children if c is not None)

    def neg(self, meta, children):
        return Neg(_span(meta), children[0])

    def not_(self, meta, children):
        return Not(_span(meta), children[0])

    def arith(self, meta, children):
        node = children[0]
        for op, right in zip(children[1::2], children[2::2], strict=True):
            node = Arith(_join(node, right), _OP_ALIASES.get(str(op), str(op)), node, right)
        # The whole chain's span comes from the parser, so a leading "(" is not cut off.
        return dataclasses.replace(node, span=_span(meta)) if len(children) > 1 else node

    def compare(self, meta, children):
        operands, ops = children[0::2], children[1::2]
        pairs = [
            Compare(_join(left, right), _OP_ALIASES.get(str(op), str(op)), left, right)
            for left, op, right in zip(operands, ops, operands[1:], strict=False)
        ]
        if len(pairs) == 1:
            return dataclasses.replace(pairs[0], span=_span(meta))
        return BoolOp(_span(meta), "and", tuple(pairs))

    def between(self, meta, children):
        value, low, high = children
        return BoolOp(
            _span(meta),
            "and",
            (
                Compare(_join(value, low), ">=", value, low),
                Compare(_join(value, high), "<=", value, high),
            ),
        )

    def in_(self, meta, children):
        return In(_span(meta), children[0], children[1])

    def not_in(self, meta, children):
        return In(_span(meta), children[0], children[1], negated=True)

    def and_(self, meta, children):
        return children[0] if len(children) == 1 else BoolOp(_span(meta), "and", tuple(children))

    def or_(self, meta, children):
        return children[0] if len(children) == 1 else BoolOp(_span(meta), "or", tuple(children))


@cache
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("expression.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True)


_TOKEN_NAMES = {
    "COMP_OP": "比较符",
    "ADD_OP": "+ 或 -",
    "MUL_OP": "* 或 /",
    "QUANTITY": "数值",
    "NAME": "字段名",
    "RPAR": "右括号 )",
    "LPAR": "左括号 (",
    "RSQB": "右方括号 ]",
    "COMMA": "逗号",
    "$END": "表达式结尾",
}


def parse(text: str) -> Node:
    """Parse an expression; syntax errors become ExpressionError with the column."""
    if not text or not text.strip():
        raise ExpressionError("表达式为空", 1)
    try:
        tree = _parser().parse(text)
    except UnexpectedCharacters as exc:
        raise ExpressionError(f"无法识别的字符 {exc.char!r}", exc.column) from None
    except UnexpectedEOF:
        raise ExpressionError("表达式不完整", len(text) + 1) from None
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            raise ExpressionError("表达式不完整", len(text) + 1) from None
        start = exc.token.start_pos or 0
        if exc.token.type == "NAME" and start > 0 and text[start - 1].isdigit():
            units = "、".join(UNITS)
            raise ExpressionError(f"未知单位 {exc.token!s}（可用: {units}）", exc.column) from None
        raise ExpressionError(f"此处不应出现 {exc.token!s}", exc.column) from None
    except UnexpectedInput as exc:  # pragma: no cover - other Lark input errors
        raise ExpressionError(str(exc), getattr(exc, "column", 1)) from None
    try:
        return _ToTree().transform(tree)
    except Exception as exc:  # VisitError wraps our ExpressionError
        inner = getattr(exc, "orig_exc", exc)
        if isinstance(inner, ExpressionError):
            raise inner from None
        raise


# ---------------------------------------------------------------- type checking


class Scope(Protocol):
    """What names mean where an expression is checked: catalog fields and a policy's parameters."""

    catalog: Catalog

    def parameter_type(self, name: str) -> ValueType | None: ...


def _col(node: Node) -> int:
    return node.span[0] + 1


def check(node: Node, scope: Scope) -> Node:
    """Resolve names and give every node its type, refusing mixtures such as money vs a date."""
    return _Checker(scope).visit(node)


_FUNCTIONS = {
    "min": "最小值",
    "max": "最大值",
    "if": "条件取值 if(条件, 是则, 否则)",
    "years_since": "距今整年数",
    "months_since": "距今整月数",
    "within": "位于行政区划内 within(字段, 区划代码或名称)",
    "today": "评估日",
    "starts_with": '以某前缀开头 starts_with(字段, "C")',
    "is_known": "是否已知",
    "sum": "成员求和 sum(成员.字段 where 条件)",
    "count": "成员计数 count(成员 where 条件)",
    "any": "有成员满足 any(成员.字段) 或 any(成员 where 条件)",
    "all": "全部成员满足 all(成员 where 条件)",
}
AGGREGATES = ("sum", "count", "any", "all", "max", "min")


class _Checker:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.catalog = scope.catalog
        self.members: Catalog | None = getattr(scope, "member_catalog", None)
        self.in_member = False

    def visit(self, node: Node) -> Node:
        method = getattr(self, f"visit_{type(node).__name__}")
        return method(node)

    def visit_Literal(self, node: Literal) -> Node:
        return node

    def visit_Name(self, node: Name) -> Node:
        field = self.catalog.get(node.name)
        if field is not None:
            return FieldRef(node.span, field, type=FIELD_VALUE_TYPES[field.type])
        ptype = self.scope.parameter_type(node.name)
        if ptype is not None:
            return ParamRef(node.span, node.name, type=ptype)
        if self.members is not None and not self.in_member and _is_group(node.name):
            raise ExpressionError(
                f"{node.name} 是一组家庭成员，请写 count({node.name})、sum({node.name}.字段)、"
                f"any({node.name} where 条件) 等",
                _col(node),
            )
        where = "成员" if self.in_member else ""
        raise ExpressionError(f"未知{where}字段或参数: {node.name}", _col(node))

    def visit_Path(self, node: Path) -> Node:
        if self.in_member:
            raise ExpressionError(
                f"成员条件中直接写成员的字段即可（如 年龄），不能再写 {node.head}.{node.attr}",
                _col(node),
            )
        if self.members is None:
            raise ExpressionError(
                f"{node.head}.{node.attr}: 只有家庭政策（entity: household）可以引用家庭成员",
                _col(node),
            )
        if node.head in SINGLE_ROLES:
            value = self._member(lambda: self._member_field(node))
            return RoleRef(node.span, node.head, value, type=value.type)
        if _is_group(node.head):
            raise ExpressionError(
                f"{node.head}.{node.attr} 是一组值，须写在 sum/count/any/all/max/min 之中，"
                f"如 sum({node.head}.{node.attr})",
                _col(node),
            )
        groups = "、".join((MEMBERS, *ROLES))
        raise ExpressionError(f"未知的成员组 {node.head}（可用: {groups}）", _col(node))

    def visit_Filtered(self, node: Filtered) -> Node:
        raise ExpressionError("where 只能写在 sum/count/any/all/max/min 的括号内", _col(node))

    def _member(self, visit):  # type: ignore[no-untyped-def]
        """Check with member fields in scope (inside an aggregate or after a role)."""
        saved = self.catalog, self.in_member
        self.catalog, self.in_member = self.members, True  # type: ignore[assignment]
        try:
            return visit()
        finally:
            self.catalog, self.in_member = saved

    def _member_field(self, node: Path) -> Node:
        field = self.catalog.get(node.attr)
        if field is None:
            raise ExpressionError(f"家庭成员没有字段: {node.attr}", node.attr_span[0] + 1)
        return FieldRef(node.attr_span, field, type=FIELD_VALUE_TYPES[field.type])

    def _aggregate(self, node: Call) -> Node:
        func = node.func
        if self.members is None:
            raise ExpressionError(
                f"{func}(…) 汇总的是家庭成员，只能用于家庭政策（entity: household）", _col(node)
            )
        if self.in_member:
            raise ExpressionError(f"成员条件中不能再嵌套 {func}(…)", _col(node))
        if len(node.args) != 1:
            raise ExpressionError(f"{func} 需要 1 个参数（如 {func}(成员.字段)）", _col(node))
        arg, where = node.args[0], None
        if isinstance(arg, Filtered):
            arg, where = arg.items, arg.where  # type: ignore[assignment,attr-defined]
        if isinstance(arg, Name) and _is_group(arg.name):
            group, value_path = arg.name, None
        elif isinstance(arg, Path) and _is_group(arg.head):
            group, value_path = arg.head, arg
        else:
            raise ExpressionError(
                f"{func} 的参数应为 成员、成员.字段 或 成员 where 条件（成员也可写角色，如 子女）",
                _col(arg),
            )
        value = None if value_path is None else self._member(lambda: self._member_field(value_path))
        checked_where = None
        if where is not None:
            checked_where = self._member(lambda: self._boolean(where, "where"))
        if func == "count":
            if value is not None:
                raise ExpressionError(
                    "count 数的是人：写 count(成员) 或 count(成员 where 条件)", _col(value)
                )
            return Aggregate(node.span, func, group, None, checked_where, type=ValueType.NUMBER)
        if func in ("any", "all"):
            if value is None:
                if checked_where is None:
                    raise ExpressionError(
                        f"{func} 需要一个条件，如 {func}(成员 where 年龄 >= 60)", _col(node)
                    )
                value, checked_where = checked_where, None
            if value.type is not ValueType.BOOL:
                raise ExpressionError(
                    f"{func} 的成员字段须为是/否，这里是{value.type}", _col(value)
                )
            return Aggregate(node.span, func, group, value, checked_where, type=ValueType.BOOL)
        if value is None:
            raise ExpressionError(f"{func} 需要成员的字段，如 {func}({group}.字段)", _col(node))
        allowed = NUMERIC if func == "sum" else NUMERIC | {ValueType.DATE}
        if value.type not in allowed:
            kind = "数值或金额" if func == "sum" else "数值、金额或日期"
            name = value_path.attr if value_path is not None else func
            raise ExpressionError(f"{func} 只能用于{kind}，{name} 是{value.type}", _col(value))
        return Aggregate(node.span, func, group, value, checked_where, type=value.type)

    def visit_Neg(self, node: Neg) -> Node:
        arg = self.visit(node.arg)
        if arg.type not in NUMERIC:
            raise ExpressionError(f"负号只能用于数值，这里是{arg.type}", _col(node))
        return dataclasses.replace(node, arg=arg, type=arg.type)

    def visit_Not(self, node: Not) -> Node:
        arg = self._boolean(node.arg, "not")
        return dataclasses.replace(node, arg=arg, type=ValueType.BOOL)

    def visit_BoolOp(self, node: BoolOp) -> Node:
        items = tuple(self._boolean(item, node.op) for item in node.items)
        return dataclasses.replace(node, items=items, type=ValueType.BOOL)

    def _boolean(self, node: Node, where: str) -> Node:
        checked = self.visit(node)
        if checked.type is not ValueType.BOOL:
            raise ExpressionError(f"{where} 需要是/否条件，这里是{checked.type}", _col(node))
        return checked

    def visit_Arith(self, node: Arith) -> Node:
        left, right = self.visit(node.left), self.visit(node.right)
        result = _arith_type(node.op, left.type, right.type)
        if result is None:
            raise ExpressionError(
                f"不能计算 {left.type} {node.op} {right.type}",
                _col(node.right if left.type in NUMERIC else node),
            )
        if result is ValueType.DATE and not isinstance(right, (Literal, ParamRef)):
            raise ExpressionError("日期加减只能用常量，如 today() - 2年", _col(node.right))
        return dataclasses.replace(node, left=left, right=right, type=result)

    def visit_Compare(self, node: Compare) -> Node:
        left, right = self.visit(node.left), self.visit(node.right)
        self._comparable(left, right, node)
        if node.op not in ("==", "!=") and left.type in (
            ValueType.TEXT,
            ValueType.REGION,
            ValueType.BOOL,
        ):
            raise ExpressionError(f"{left.type}只能用 = 或 != 比较", _col(node))
        return dataclasses.replace(node, left=left, right=right, type=ValueType.BOOL)

    def visit_In(self, node: In) -> Node:
        value = self.visit(node.value)
        items = tuple(self.visit(item) for item in node.items)
        if not items:
            raise ExpressionError("in 后的列表为空", _col(node))
        for item in items:
            if not isinstance(item, Literal):
                raise ExpressionError("in 后的列表只能写常量", _col(item))
            self._comparable(value, item, item)
        return dataclasses.replace(node, value=value, items=items, type=ValueType.BOOL)

    def _comparable(self, left: Node, right: Node, at: Node) -> None:
        lt, rt = left.type, right.type
        text_like = {ValueType.TEXT, ValueType.REGION}
        if lt != rt and not (lt in text_like and rt in text_like):
            hint = ""
            if ValueType.NUMBER in (lt, rt) and ({lt, rt} - {ValueType.NUMBER}) <= NUMERIC:
                unit = {
                    ValueType.MONEY: "元/万元/亿元",
                    ValueType.RATIO: "%",
                    ValueType.YEARS: "年",
                    ValueType.MONTHS: "月",
                }[next(iter({lt, rt} - {ValueType.NUMBER}))]  # type: ignore[index]
                hint = f"（数值请写上单位 {unit}）"
            raise ExpressionError(f"类型不符: {lt} 不能与 {rt} 比较{hint}", _col(at))
        for this, other in ((left, right), (right, left)):
            if isinstance(this, RoleRef):
                this = this.value
            if (
                isinstance(this, FieldRef)
                and this.field.values
                and isinstance(other, Literal)
                and other.value not in this.field.values
            ):
                allowed = "、".join(this.field.values)
                raise ExpressionError(
                    f"{other.value!r} 不是 {this.field.label} 的取值（可选: {allowed}）",
                    _col(other),
                )

    def visit_Call(self, node: Call) -> Node:
        func = node.func
        if func not in _FUNCTIONS:
            raise ExpressionError(f"未知函数: {func}（可用: {', '.join(_FUNCTIONS)}）", _col(node))
        if func in ("sum", "count", "any", "all") or (
            func in ("min", "max") and len(node.args) == 1 and _is_group_arg(node.args[0])
        ):
            return self._aggregate(node)
        args = tuple(self.visit(a) for a in node.args)
        types = [a.type for a in args]

        def need(count: int) -> None:
            if len(args) != count:
                raise ExpressionError(
                    f"{func} 需要 {count} 个参数，给了 {len(args)} 个", _col(node)
                )

        if func in ("min", "max"):
            if len(args) < 2:
                raise ExpressionError(f"{func} 至少需要 2 个参数", _col(node))
            if any(t not in NUMERIC for t in types) or len(set(types)) != 1:
                raise ExpressionError(
                    f"{func} 的参数须为同一类数值，这里是 {'、'.join(map(str, types))}", _col(node)
                )
            return dataclasses.replace(node, args=args, type=types[0])
        if func == "if":
            need(3)
            if types[0] is not ValueType.BOOL:
                raise ExpressionError("if 的第一个参数须为条件", _col(args[0]))
            if types[1] != types[2]:
                raise ExpressionError(
                    f"if 的两个取值类型不同: {types[1]} 与 {types[2]}", _col(args[2])
                )
            return dataclasses.replace(node, args=args, type=types[1])
        if func in ("years_since", "months_since"):
            need(1)
            if types[0] is not ValueType.DATE:
                raise ExpressionError(f"{func} 的参数须为日期，这里是{types[0]}", _col(args[0]))
            result = ValueType.YEARS if func == "years_since" else ValueType.MONTHS
            return dataclasses.replace(node, args=args, type=result)
        if func == "today":
            need(0)
            return dataclasses.replace(node, args=args, type=ValueType.DATE)
        if func == "is_known":
            need(1)
            return dataclasses.replace(node, args=args, type=ValueType.BOOL)
        if func == "starts_with":
            need(2)
            if types[0] not in (ValueType.TEXT, ValueType.REGION):
                raise ExpressionError(
                    f"starts_with 的第一个参数须为文本，这里是{types[0]}", _col(args[0])
                )
            if not (isinstance(args[1], Literal) and isinstance(args[1].value, str)):
                raise ExpressionError(
                    'starts_with 的第二个参数须为带引号的文本，如 "C"', _col(args[1])
                )
            return dataclasses.replace(node, args=args, type=ValueType.BOOL)
        # within(region field, region code or name)
        need(2)
        if types[0] is not ValueType.REGION:
            raise ExpressionError(
                f"within 的第一个参数须为行政区划字段，这里是{types[0]}", _col(args[0])
            )
        target = args[1]
        if not isinstance(target, Literal) or not isinstance(target.value, (str, Decimal)):
            raise ExpressionError(
                'within 的第二个参数须为区划代码（如 350211）或名称（如 "集美区"）', _col(target)
            )
        prefix = _region_literal(target)
        return dataclasses.replace(
            node,
            args=(args[0], Literal(target.span, prefix, type=ValueType.TEXT)),
            type=ValueType.BOOL,
        )


def _is_group(name: str) -> bool:
    return name == MEMBERS or name in ROLES


def _is_group_arg(arg: Node) -> bool:
    inner = arg.items if isinstance(arg, Filtered) else arg
    return (isinstance(inner, Name) and _is_group(inner.name)) or (
        isinstance(inner, Path) and _is_group(inner.head)
    )


def _region_literal(target: Literal) -> str:
    raw = str(target.value)
    code = raw if raw.isdigit() else region_code_of(raw)
    if code is None:
        raise ExpressionError(f"未知行政区划: {raw}", _col(target))
    try:
        return region_prefix(code)
    except ValueError as exc:
        raise ExpressionError(str(exc), _col(target)) from None


def _arith_type(op: str, left: ValueType | None, right: ValueType | None) -> ValueType | None:
    """The type of `left op right`, or None where the arithmetic has no meaning."""
    m, n, r = ValueType.MONEY, ValueType.NUMBER, ValueType.RATIO
    scalar = {n, r}
    if left is None or right is None:
        return None
    if op in "+-":
        if left == right and left in NUMERIC:
            return left
        if left == ValueType.DATE and right in (ValueType.YEARS, ValueType.MONTHS):
            return ValueType.DATE
        return None
    if op == "*":
        if (left == m and right in scalar) or (right == m and left in scalar):
            return m
        if left in scalar and right in scalar:
            return r if r in (left, right) else n
        if {left, right} <= {n, ValueType.YEARS} or {left, right} <= {n, ValueType.MONTHS}:
            return left if left != n else right
        return None
    if op == "/":
        if left == right and left in NUMERIC:
            return r
        if left in NUMERIC and right in scalar:
            return left
        return None
    return None


def parse_literal(text: str) -> Literal:
    """Parse a single constant such as `2000万元`, `3%`, `2025-01-01`, `true`, `"小型"`."""
    node = parse(text)
    if (
        isinstance(node, Neg)
        and isinstance(node.arg, Literal)
        and isinstance(node.arg.value, Decimal)
    ):
        return Literal(node.span, -node.arg.value, type=node.arg.type)
    if not isinstance(node, Literal):
        raise ExpressionError(f"应为常量（如 2000万元、3%、2025-01-01），实为表达式: {text}", 1)
    return node


def literal_for_field(field: Field, raw: object) -> Value:
    """A fact given for `field` (in a test case or calculator input) as a typed value; None = unknown."""
    if raw is None:
        return None
    vtype = FIELD_VALUE_TYPES[field.type]
    if vtype in (ValueType.TEXT, ValueType.REGION):
        text = str(raw)
        if field.values and text not in field.values:
            raise ExpressionError(
                f"{text!r} 不是 {field.label} 的取值（可选: {'、'.join(field.values)}）"
            )
        return text
    if isinstance(raw, (bool, date)):
        value: Value = raw
        literal_type: ValueType | None = ValueType.BOOL if isinstance(raw, bool) else ValueType.DATE
    else:
        try:
            lit = parse_literal(str(raw))
        except ExpressionError as exc:
            raise ExpressionError(f"{field.label} 的值无法识别: {raw!r}（{exc.message}）") from None
        value, literal_type = lit.value, lit.type
    if literal_type != vtype:
        hint = {
            ValueType.MONEY: "，金额请带单位，如 500万元",
            ValueType.RATIO: "，比例请写百分数，如 3%",
        }
        raise ExpressionError(
            f"{field.label} 应为{vtype}，给出的是{literal_type}: {raw!r}{hint.get(vtype, '')}"
        )
    if vtype is ValueType.NUMBER and field.type is FieldType.INTEGER:
        try:
            if value != value.to_integral_value():  # type: ignore[union-attr]
                raise ExpressionError(f"{field.label} 应为整数: {raw!r}")
        except InvalidOperation:  # pragma: no cover
            raise ExpressionError(f"{field.label} 应为整数: {raw!r}") from None
    return value


def source_text(source: str, node: Node) -> str:
    return source[node.span[0] : node.span[1]]


_REFS: dict[tuple[str, int], tuple[Node, list]] = {}  # per parsed node: the calculator asks often


def _remembered(kind: str, node: Node, compute):  # type: ignore[no-untyped-def]
    """A walk's result for this very node (policies are parsed once and kept, so ids are stable)."""
    key = (kind, id(node))
    hit = _REFS.get(key)
    if hit is not None and hit[0] is node:
        return list(hit[1])
    result = compute(node)
    if len(_REFS) > 100_000:
        _REFS.clear()
    _REFS[key] = (node, result)
    return list(result)


def field_refs(node: Node) -> list[Field]:
    """The fields an expression reads of the entity itself (not of its members), in order of use."""
    return _remembered("fields", node, _field_refs)


def group_refs(node: Node) -> list[Aggregate | RoleRef]:
    """The aggregates and role values an expression reads of its members, in order of use."""
    return _remembered("groups", node, _group_refs)


def _field_refs(node: Node) -> list[Field]:
    seen: dict[str, Field] = {}

    def walk(n: object) -> None:
        if isinstance(n, FieldRef):
            seen.setdefault(n.field.name, n.field)
        elif isinstance(n, (Aggregate, RoleRef)):
            return
        elif isinstance(n, Node):
            for f in dataclasses.fields(n):
                walk(getattr(n, f.name))
        elif isinstance(n, tuple):
            for item in n:
                walk(item)

    walk(node)
    return list(seen.values())


def _group_refs(node: Node) -> list[Aggregate | RoleRef]:
    found: list[Aggregate | RoleRef] = []

    def walk(n: object) -> None:
        if isinstance(n, (Aggregate, RoleRef)):
            if n not in found:
                found.append(n)
        elif isinstance(n, Node):
            for f in dataclasses.fields(n):
                walk(getattr(n, f.name))
        elif isinstance(n, tuple):
            for item in n:
                walk(item)

    walk(node)
    return found
