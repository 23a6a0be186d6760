"""The 政策计算器 form shared by the staff workbench and the 企业服务 portal.

The form asks only for the facts the policies in force use, in the units people know (万元, %);
`zhixiang.rules` turns each answer into a typed fact and refuses what it cannot read, and
`zhixiang.matching.Calculator` answers. Nothing typed here is stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from zhixiang.catalog import Field, FieldType, load_catalog
from zhixiang.matching import Calculator, EntityReport
from zhixiang.rules import ExpressionError, Policy, Value, literal_for_field
from zhixiang.web._forms import Form

ASKED_TYPES = (
    FieldType.MONEY,
    FieldType.INTEGER,
    FieldType.RATIO,
    FieldType.BOOL,
    FieldType.ENUM,
    FieldType.DATE,
)
STATUS_LABELS = {"eligible": "符合", "ineligible": "不符合", "needs_information": "待补充信息"}


@dataclass(frozen=True)
class Question:
    field: Field
    name: str  # the form field: f_<catalog name>
    unit: str | None
    choices: tuple[tuple[str, str], ...]


def questions(policies: list[Policy], entity: str = "enterprise") -> list[Question]:
    """One question per fact the given policies mention, in catalog order."""
    texts = [c.source for p in policies for c in p.conditions]
    texts += [p.benefit.source for p in policies if p.benefit]
    asked = []
    for f in load_catalog(entity).fields:
        if f.type not in ASKED_TYPES or not any(f.label in t or f.name in t for t in texts):
            continue
        asked.append(question_for(f))
    return asked


def answers_from(form: Form, asked: list[Question]) -> dict[str, object]:
    """Each answered question as the rules read a typed answer (万元 and % added, 是/否 as a bool);
    an unreadable answer is refused next to its question."""
    answers: dict[str, object] = {}
    for q in asked:
        raw = form.get(q.name)
        if raw is None:
            continue
        if q.field.type is FieldType.BOOL:
            value: object = {"yes": True, "no": False}.get(raw)
            if value is None:
                form.refuse(q.name, "请选择是或否")
                continue
        elif q.field.type is FieldType.DATE:
            try:
                value = dt.date.fromisoformat(raw)
            except ValueError:
                form.refuse(q.name, "应为日期，如 2024-05-01")
                continue
        elif q.field.type is FieldType.MONEY:
            value = f"{raw}{q.unit if q.unit in ('元', '万元') else '万元'}"
        elif q.field.type is FieldType.RATIO:
            value = f"{raw.rstrip('%')}%"
        elif q.choices and raw not in dict(q.choices):
            form.refuse(q.name, "不是可选的值，请从列表中选择")
            continue
        else:
            value = raw
        try:
            literal_for_field(q.field, value)
        except ExpressionError as exc:
            form.refuse(q.name, exc.message)
            continue
        answers[q.field.name] = value
    return answers


def facts_from(form: Form, asked: list[Question]) -> dict[str, Value]:
    """Typed facts from the answers; an unreadable answer is refused next to its question."""
    by_name = {q.field.name: q.field for q in asked}
    return {
        name: literal_for_field(by_name[name], value)
        for name, value in answers_from(form, asked).items()
    }


def question_for(f: Field, name: str | None = None) -> Question:
    """The question asking for one catalog field, in the units people know."""
    unit = {FieldType.MONEY: "万元", FieldType.RATIO: "%"}.get(f.type, f.unit)
    choices: tuple[tuple[str, str], ...] = ()
    if f.type is FieldType.BOOL:
        choices = (("yes", "是"), ("no", "否"))
    elif f.type is FieldType.ENUM:
        choices = tuple((v, v) for v in f.values)
    return Question(f, name or f"f_{f.name}", unit, choices)


def as_of_from(form: Form) -> dt.date:
    raw = form.get("as_of")
    if raw is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        form.refuse("as_of", "应为日期，如 2026-06-30")
        return dt.date.today()


def evaluate(policies: list[Policy], facts: dict[str, Value], as_of: dt.date) -> dict:
    """The calculator's account as plain data for the template (amounts as exact strings)."""
    report: EntityReport = Calculator(policies).evaluate(facts, as_of)
    return report.to_dict()
