"""Policies as data: one YAML file each, loaded with every problem located by file, line and column."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from pathlib import Path

import yaml

from zhixiang.catalog import Catalog, CatalogError
from zhixiang.rules._gap import Analysis, analyse, inferred_scope
from zhixiang.rules._groups import MEMBERS_KEY, ROLES, scope_catalogs
from zhixiang.rules._language import (
    ExpressionError,
    FieldRef,
    Node,
    Value,
    ValueType,
    check,
    field_refs,
    literal_for_field,
    parse,
    parse_literal,
)

STATUSES = {
    "eligible": "eligible",
    "符合": "eligible",
    "ineligible": "ineligible",
    "不符合": "ineligible",
    "needs_information": "needs_information",
    "待补充信息": "needs_information",
}
LIFE_EVENTS = (
    "生育",
    "入学",
    "就业失业",
    "住房",
    "养老",
    "残疾",
    "救助",
)  # 一件事 bundles for residents
AMOUNT_ID = "amount"  # the pseudo-condition reported when the benefit needs a fact that is missing
# 免申即享: how a benefit reaches the entity, and what a budget does when it is short.
DELIVERY_MODES = ("直接兑现", "意愿确认", "申请审核")
SHORTFALL_RULES = ("按比例", "按排序", "拒绝")
GROUPS_FILE = "_groups.yaml"  # beside the policy files: the exclusivity groups they may name


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class PolicyProblem:
    """Why a policy file was rejected, and where."""

    where: Location
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class PolicyRejected(Exception):
    def __init__(self, problems: list[PolicyProblem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass(frozen=True)
class Condition:
    id: str
    label: str
    source: str
    node: Node
    where: Location
    scope: bool = False  # who the policy is for (see `_gap.inferred_scope` when the file is silent)
    needs_review: bool = False  # 智能快审: a reviewer decides, even when the data answer it

    @cached_property
    def analysis(self) -> Analysis:
        """Its kind (scope, date, threshold, achievable) and what its gap is computed from (worked
        out once: the calculator asks for it on every evaluation)."""
        return analyse(self.node, self.scope)


@dataclass(frozen=True)
class Parameter:
    """A value that changes over time: each version applies from its start date on."""

    name: str
    type: ValueType
    versions: tuple[tuple[date, Value], ...]

    def value_at(self, as_of: date) -> Value:
        current = [value for start, value in self.versions if start <= as_of]
        return current[-1] if current else None


@dataclass(frozen=True)
class Benefit:
    source: str
    node: Node
    cap: Decimal | None
    where: Location


@dataclass(frozen=True)
class Budget:
    """A policy's money for one period, and what happens when the eligible ask for more."""

    amount: Decimal
    shortfall: str  # one of SHORTFALL_RULES


@dataclass(frozen=True)
class PolicyTest:
    name: str
    as_of: date
    facts: Mapping[str, Value]
    status: str
    amount: Decimal | None
    failed: tuple[str, ...] | None
    unknown: tuple[str, ...] | None
    where: Location


@dataclass(frozen=True)
class Policy:
    id: str
    title: str
    department: str
    document: str
    clause: str
    entity: str
    valid_from: date | None
    valid_to: date | None
    conditions: tuple[Condition, ...]
    benefit: Benefit | None
    parameters: Mapping[str, Parameter]
    tests: tuple[PolicyTest, ...]
    path: Path
    summary: str = ""
    delivery: str = "申请审核"  # one of DELIVERY_MODES; absent means an application is needed
    exclusivity_group: str | None = None  # 同一事项不重复享受，按就高原则
    annual_cap: Decimal | None = None  # 单个主体年度奖励总额上限（跨政策）
    budget: Budget | None = None
    life_event: str = ""  # which 一件事 bundle (LIFE_EVENTS) a resident policy belongs to

    def in_force(self, as_of: date) -> bool:
        return (self.valid_from is None or self.valid_from <= as_of) and (
            self.valid_to is None or as_of <= self.valid_to
        )

    def params_at(self, as_of: date) -> dict[str, Value]:
        return {name: p.value_at(as_of) for name, p in self.parameters.items()}

    def condition_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.conditions)

    def fields_read(self) -> tuple[str, ...]:
        """Every field its conditions and benefit read, in order of first use (English names)."""
        nodes = [c.node for c in self.conditions]
        if self.benefit is not None:
            nodes.append(self.benefit.node)
        return tuple(dict.fromkeys(f.name for node in nodes for f in field_refs(node)))


# ---------------------------------------------------------------- YAML with positions

_constructor = yaml.constructor.SafeConstructor()


@dataclass
class _Y:
    """A YAML node that knows where it stands in its file."""

    node: yaml.Node
    file: str

    @property
    def where(self) -> Location:
        mark = self.node.start_mark
        return Location(self.file, mark.line + 1, mark.column + 1)

    def get(self, key: str) -> _Y | None:
        if isinstance(self.node, yaml.MappingNode):
            for k, v in self.node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == key:
                    return _Y(v, self.file)
        return None

    def keys(self) -> list[str]:
        if isinstance(self.node, yaml.MappingNode):
            return [k.value for k, _ in self.node.value]
        return []

    def items(self) -> list[tuple[str, _Y]]:
        if not isinstance(self.node, yaml.MappingNode):
            raise _Bad(self.where, "这里应为键值对（映射）")
        return [(k.value, _Y(v, self.file)) for k, v in self.node.value]

    def seq(self) -> list[_Y]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise _Bad(self.where, "这里应为列表（以 - 开头的多项）")
        return [_Y(v, self.file) for v in self.node.value]

    def text(self) -> str:
        if not isinstance(self.node, yaml.ScalarNode):
            raise _Bad(self.where, "这里应为单个值")
        return str(self.node.value)

    def value(self) -> object:
        return _constructor.construct_object(self.node, deep=True)

    def expression_location(self, column: int) -> Location:
        """Where character `column` (1-based) of this scalar's text stands in the file."""
        mark = self.node.start_mark
        style = getattr(self.node, "style", None)
        if style in ("|", ">"):
            return Location(self.file, mark.line + 2, column)
        offset = 1 if style in ('"', "'") else 0
        return Location(self.file, mark.line + 1, mark.column + offset + column)


class _Bad(Exception):
    def __init__(self, where: Location, message: str) -> None:
        super().__init__(message)
        self.problem = PolicyProblem(where, message)


def _required(doc: _Y, key: str, what: str) -> _Y:
    found = doc.get(key)
    if found is None or (isinstance(found.node, yaml.ScalarNode) and found.node.value == ""):
        raise _Bad(doc.where, f"缺少必填项 {key}（{what}）")
    return found


def _date(y: _Y, what: str) -> date:
    value = y.value()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _Bad(y.where, f"{what}应为日期，如 2025-01-01，实为 {value!r}") from None


# ---------------------------------------------------------------- loading


@dataclass
class _Scope:
    catalog: Catalog
    parameters: dict[str, Parameter] = field(default_factory=dict)
    member_catalog: Catalog | None = None

    def parameter_type(self, name: str) -> ValueType | None:
        p = self.parameters.get(name)
        return p.type if p else None


def _expression(y: _Y, scope: _Scope) -> tuple[str, Node]:
    text = y.text()
    try:
        return text, check(parse(text), scope)
    except ExpressionError as exc:
        raise _Bad(
            y.expression_location(exc.column), f"{exc.message}（表达式: {text.strip()}）"
        ) from None


def _parameters(doc: _Y, problems: list[PolicyProblem]) -> dict[str, Parameter]:
    found: dict[str, Parameter] = {}
    section = doc.get("parameters")
    if section is None:
        return found
    for name, y in section.items():
        try:
            entries = y.seq() if isinstance(y.node, yaml.SequenceNode) else [y]
            versions: list[tuple[date, Value]] = []
            vtype: ValueType | None = None
            for entry in entries:
                if isinstance(entry.node, yaml.MappingNode):
                    start = _date(_required(entry, "from", "起始日期"), "from ")
                    raw = _required(entry, "value", "取值")
                else:
                    start, raw = date.min, entry
                try:
                    lit = parse_literal(raw.text())
                except ExpressionError as exc:
                    raise _Bad(
                        raw.expression_location(exc.column), f"参数 {name}: {exc.message}"
                    ) from None
                if vtype is not None and lit.type != vtype:
                    raise _Bad(raw.where, f"参数 {name} 各版本类型不一致: {vtype} 与 {lit.type}")
                vtype = lit.type
                versions.append((start, lit.value))
            versions.sort(key=lambda v: v[0])
            if len({v[0] for v in versions}) != len(versions):
                raise _Bad(y.where, f"参数 {name} 有两个版本起始日期相同")
            assert vtype is not None
            found[name] = Parameter(name, vtype, tuple(versions))
        except _Bad as bad:
            problems.append(bad.problem)
    return found


def _flag(y: _Y, key: str, default: bool) -> bool:
    """An optional yes/no key of a condition (scope, needs_review)."""
    found = y.get(key)
    if found is None:
        return default
    value = found.value()
    if not isinstance(value, bool):
        raise _Bad(found.where, f"{key} 应为 true 或 false，实为 {value!r}")
    return value


def _conditions(doc: _Y, scope: _Scope, problems: list[PolicyProblem]) -> list[Condition]:
    conditions: list[Condition] = []
    seen: set[str] = set()
    try:
        items = _required(doc, "conditions", "适用条件").seq()
    except _Bad as bad:
        problems.append(bad.problem)
        return conditions
    for y in items:
        try:
            cid = _required(y, "id", "条件编号").text()
            if cid in seen or cid == AMOUNT_ID:
                raise _Bad(y.where, f"条件编号重复或保留: {cid}")
            seen.add(cid)
            label = _required(y, "label", "条件的中文说明").text()
            when = _required(y, "when", "条件表达式")
            text, node = _expression(when, scope)
            if node.type is not ValueType.BOOL:
                raise _Bad(when.where, f"条件 {cid} 应为是/否判断，实为{node.type}")
            is_scope = _flag(y, "scope", inferred_scope(node))
            needs_review = _flag(y, "needs_review", False)
            conditions.append(Condition(cid, label, text, node, when.where, is_scope, needs_review))
        except _Bad as bad:
            problems.append(bad.problem)
    if len(conditions) > 62:
        problems.append(PolicyProblem(doc.where, "一项政策最多 62 个条件"))
    return conditions


def _benefit(doc: _Y, scope: _Scope) -> Benefit | None:
    y = doc.get("benefit")
    if y is None:
        return None
    amount = _required(y, "amount", "金额公式")
    text, node = _expression(amount, scope)
    if node.type is not ValueType.MONEY:
        raise _Bad(amount.where, f"金额公式应得出金额（元），实为{node.type}")
    cap: Decimal | None = None
    cap_y = y.get("cap")
    if cap_y is not None:
        try:
            lit = parse_literal(cap_y.text())
        except ExpressionError as exc:
            raise _Bad(cap_y.expression_location(exc.column), f"上限: {exc.message}") from None
        if lit.type is not ValueType.MONEY:
            raise _Bad(cap_y.where, f"上限应为金额（如 100万元），实为{lit.type}")
        cap = lit.value  # type: ignore[assignment]
    return Benefit(text, node, cap, amount.where)


def _money(y: _Y, what: str) -> Decimal:
    try:
        lit = parse_literal(y.text())
    except ExpressionError as exc:
        raise _Bad(y.expression_location(exc.column), f"{what}: {exc.message}") from None
    if lit.type is not ValueType.MONEY or not isinstance(lit.value, Decimal) or lit.value <= 0:
        raise _Bad(y.where, f"{what}应为正的金额（如 200万元），实为 {y.text()}")
    return lit.value


def known_groups(folder: Path) -> set[str] | None:
    """The exclusivity groups declared in `folder/_groups.yaml`; None when the folder has none."""
    path = folder / GROUPS_FILE
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text("utf-8")) or {}
    groups = data.get("groups") if isinstance(data, dict) else None
    return {str(name) for name in groups} if isinstance(groups, dict) else set()


def _delivery(
    doc: _Y, path: Path, groups: set[str] | None, problems: list[PolicyProblem]
) -> dict[str, object]:
    """delivery, exclusivity_group, annual_cap and budget: how the benefit is paid out."""
    found: dict[str, object] = {}
    try:
        if (y := doc.get("delivery")) is not None:
            if y.text() not in DELIVERY_MODES:
                raise _Bad(
                    y.where, f"未知的兑现方式 {y.text()}，应为 {'、'.join(DELIVERY_MODES)} 之一"
                )
            found["delivery"] = y.text()
        if (y := doc.get("exclusivity_group")) is not None:
            known = groups if groups is not None else known_groups(path.parent) or set()
            if y.text() not in known:
                listed = "、".join(sorted(known)) or "无"
                raise _Bad(
                    y.where,
                    f"未知的互斥组 {y.text()}（{GROUPS_FILE} 中登记的互斥组: {listed}）",
                )
            found["exclusivity_group"] = y.text()
        if (y := doc.get("annual_cap")) is not None:
            found["annual_cap"] = _money(y, "年度奖励总额上限 annual_cap ")
        if (y := doc.get("budget")) is not None:
            amount = _money(_required(y, "amount", "预算金额"), "预算 budget.amount ")
            rule = _required(y, "shortfall", "预算不足时的规则")
            if rule.text() not in SHORTFALL_RULES:
                raise _Bad(
                    rule.where,
                    f"未知的预算不足规则 {rule.text()}，应为 {'、'.join(SHORTFALL_RULES)} 之一",
                )
            found["budget"] = Budget(amount, rule.text())
    except _Bad as bad:
        problems.append(bad.problem)
    return found


def _facts(y: _Y | None, catalog: Catalog, name: str) -> dict[str, Value]:
    facts: dict[str, Value] = {}
    for key, fy in y.items() if y else []:
        f = catalog.get(key)
        if f is None:
            raise _Bad(fy.where, f"用例 {name}: 未知字段 {key}")
        raw = fy.value()
        try:
            facts[f.name] = literal_for_field(f, fy.text() if isinstance(raw, str) else raw)
        except ExpressionError as exc:
            raise _Bad(fy.where, f"用例 {name}: {exc.message}") from None
    return facts


def _members(y: _Y | None, catalog: Catalog | None, name: str) -> tuple[dict[str, Value], ...]:
    """A test household's members: each a person's facts with its 家庭角色 (role)."""
    if y is None:
        return ()
    if catalog is None:
        raise _Bad(y.where, f"用例 {name}: 只有家庭政策的用例可以写 members")
    members = []
    for my in y.seq():
        # As in the warehouse, a member with no house_owner link owns no house.
        facts = {"owns_house": False, "owned_area": Decimal(0), **_facts(my, catalog, name)}
        if facts.get("role") not in ROLES:
            raise _Bad(my.where, f"用例 {name}: 每个成员须写 role（{'/'.join(ROLES)}）")
        members.append(facts)
    return tuple(members)


def _tests(
    doc: _Y,
    catalog: Catalog,
    condition_ids: set[str],
    problems: list[PolicyProblem],
    member_catalog: Catalog | None = None,
) -> list[PolicyTest]:
    tests: list[PolicyTest] = []
    section = doc.get("tests")
    if section is None:
        return tests
    for i, y in enumerate(section.seq(), start=1):
        try:
            name = n.text() if (n := y.get("name")) else f"用例{i}"
            as_of = _date(_required(y, "as_of", "评估日期"), "as_of ")
            facts = _facts(y.get("facts"), catalog, name)
            if member_catalog is not None:
                facts[MEMBERS_KEY] = _members(y.get("members"), member_catalog, name)  # type: ignore[assignment]
            elif y.get("members") is not None:
                _members(y.get("members"), None, name)
            expect = _required(y, "expect", "预期结果")
            status_y = _required(expect, "status", "eligible / ineligible / needs_information")
            status = STATUSES.get(status_y.text())
            if status is None:
                raise _Bad(
                    status_y.where,
                    f"用例 {name}: 未知结论 {status_y.text()}，应为 {'/'.join(STATUSES)}",
                )
            amount = None
            if (amount_y := expect.get("amount")) is not None:
                lit = parse_literal(amount_y.text())
                if lit.type is not ValueType.MONEY or not isinstance(lit.value, Decimal):
                    raise _Bad(amount_y.where, f"用例 {name}: 金额应带单位，如 20万元")
                amount = lit.value
            lists: dict[str, tuple[str, ...] | None] = {}
            for key in ("failed", "unknown"):
                ly = expect.get(key)
                lists[key] = None
                if ly is not None:
                    ids = tuple(item.text() for item in ly.seq())
                    bad = [c for c in ids if c not in condition_ids | {AMOUNT_ID}]
                    if bad:
                        raise _Bad(ly.where, f"用例 {name}: 未知条件编号 {', '.join(bad)}")
                    lists[key] = ids
            tests.append(
                PolicyTest(
                    name, as_of, facts, status, amount, lists["failed"], lists["unknown"], y.where
                )
            )
        except _Bad as bad:
            problems.append(bad.problem)
        except ExpressionError as exc:
            problems.append(PolicyProblem(y.where, exc.message))
    return tests


def parse_policy(text: str, path: Path, groups: set[str] | None = None) -> Policy:
    """Build a Policy from YAML text; raise PolicyRejected listing every problem found.

    `groups`: the exclusivity groups it may name (default: those of `_groups.yaml` beside it).
    """
    file = str(path)
    problems: list[PolicyProblem] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise PolicyRejected(
            [PolicyProblem(Location(file, line, col), f"YAML 语法错误: {exc.problem}")]
        ) from None
    except yaml.YAMLError as exc:  # e.g. a control character the reader refuses (no mark)
        raise PolicyRejected(
            [PolicyProblem(Location(file, 1, 1), f"YAML 无法读取: {exc}")]
        ) from None
    if root is None or not isinstance(root, yaml.MappingNode):
        raise PolicyRejected(
            [PolicyProblem(Location(file, 1, 1), "政策文件应为键值对（id、title、conditions 等）")]
        )
    doc = _Y(root, file)
    try:
        pid = _required(doc, "id", "政策编号").text()
        title = _required(doc, "title", "政策名称").text()
        department = _required(doc, "department", "发布部门").text()
        source = _required(doc, "source", "政策依据")
        document = _required(source, "document", "政策文件").text()
        clause = _required(source, "clause", "条款").text()
        entity = e.text() if (e := doc.get("entity")) else "enterprise"
        try:
            catalog, member_catalog = scope_catalogs(entity)
        except (FileNotFoundError, CatalogError):
            raise _Bad(doc.get("entity").where, f"未知主体类型: {entity}") from None  # type: ignore[union-attr]
        valid = doc.get("valid")
        valid_from = _date(start, "valid.from ") if valid and (start := valid.get("from")) else None
        valid_to = _date(end, "valid.to ") if valid and (end := valid.get("to")) else None
        if valid_from and valid_to and valid_to < valid_from:
            raise _Bad(valid.where, "有效期结束早于开始")  # type: ignore[union-attr]
    except _Bad as bad:
        raise PolicyRejected([bad.problem]) from None

    scope = _Scope(catalog, _parameters(doc, problems), member_catalog)
    conditions = _conditions(doc, scope, problems)
    benefit = None
    try:
        benefit = _benefit(doc, scope)
    except _Bad as bad:
        problems.append(bad.problem)
    tests = _tests(doc, catalog, {c.id for c in conditions}, problems, member_catalog)
    delivery = _delivery(doc, path, groups, problems)
    for test in tests:
        if (valid_from and test.as_of < valid_from) or (valid_to and test.as_of > valid_to):
            problems.append(
                PolicyProblem(
                    test.where, f"用例“{test.name}”的评估日期 {test.as_of} 不在政策有效期内"
                )
            )
    if problems:
        raise PolicyRejected(problems)
    summary = s.text() if (s := doc.get("summary")) else ""
    life_event = e.text() if (e := doc.get("life_event")) else ""
    if life_event and life_event not in LIFE_EVENTS:
        raise PolicyRejected(
            [
                PolicyProblem(
                    doc.get("life_event").where,  # type: ignore[union-attr]
                    f"未知的一件事类别 {life_event}（可选: {'、'.join(LIFE_EVENTS)}）",
                )
            ]
        )
    return Policy(
        id=pid,
        title=title,
        department=department,
        document=document,
        clause=clause,
        entity=entity,
        valid_from=valid_from,
        valid_to=valid_to,
        conditions=tuple(conditions),
        benefit=benefit,
        parameters=scope.parameters,
        tests=tuple(tests),
        path=path,
        summary=summary,
        **delivery,  # type: ignore[arg-type]
        life_event=life_event,
    )


def policy_files(paths: Iterable[Path]) -> list[Path]:
    """Expand directories into their *.yaml / *.yml files, sorted for a stable order."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = [*p.glob("*.yaml"), *p.glob("*.yml")]
            files.extend(sorted(f for f in found if not f.name.startswith("_")))
        else:
            files.append(p)
    return files


def policy_fields(policy: Policy) -> list[str]:
    """Every field the policy reads, of the entity or of its members (English names), for grants
    and audit records: what the duty needs and nothing more."""
    seen: dict[str, None] = {}

    def walk(n: object) -> None:
        if isinstance(n, FieldRef):
            seen.setdefault(n.field.name)
        elif isinstance(n, Node):
            for value in vars(n).values():
                walk(value)
        elif isinstance(n, tuple):
            for item in n:
                walk(item)

    for c in policy.conditions:
        walk(c.node)
    if policy.benefit is not None:
        walk(policy.benefit.node)
    return list(seen)
