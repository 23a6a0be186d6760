"""政策拆解: draft the conditions of a policy file from the words of a clause.

Each numeric phrase ("人均住房建筑面积低于15平方米", "年龄在45周岁以下", "缴纳社会保险满4年") becomes a
draft condition: a catalog field found by the words before it, an operator from the legal wording
(民法典第一千二百五十九条: 以上、以下、以内 include the number; 不满、超过 do not), a threshold with
its unit, and the span of text it came from. Fields are looked up through the catalog's public face,
so fields other engineers add are picked up. The draft is YAML that `zhixiang.rules.parse_policy`
reads once an officer has checked it; nothing here decides a policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import yaml

from zhixiang.catalog import Catalog, CatalogError, Field, FieldType, load_catalog
from zhixiang.knowledge._structure import chinese_number

ENTITY_KINDS = ("enterprise", "person", "household", "house")
_NUMBER = r"(\d+(?:\.\d+)?|[一二三四五六七八九十百千两]+)"
_UNIT = r"(周岁|岁|万元|亿元|元|平方米|㎡|个工作日|个月|月|年|日|天|人次|人|户|件|家|%|％|倍|次|分|小时)"
_BEFORE = r"(不得超过|不得高于|不得多于|不得低于|不得少于|不低于|不少于|不超过|不高于|不多于|不足|不满|未满|年满|超过|低于|高于|少于|多于|达到|满|至少|最高|最多|最长|在|为)?"
_AFTER = r"(（含）以上|（含）以下|及以上|及以下|以上|以下|以内|之内|内)?"
_PHRASE = re.compile(_BEFORE + r"\s*" + _NUMBER + r"\s*" + _UNIT + r"\s*" + _AFTER)
_BEFORE_OPS = {
    "不低于": ">=", "不少于": ">=", "达到": ">=", "满": ">=", "年满": ">=", "至少": ">=",
    "超过": ">", "高于": ">", "多于": ">",
    "低于": "<", "少于": "<", "不足": "<", "不满": "<", "未满": "<",
    "不得低于": ">=", "不得少于": ">=", "不得超过": "<=", "不得高于": "<=", "不得多于": "<=",
    "不超过": "<=", "不高于": "<=", "不多于": "<=", "最高": "<=", "最多": "<=", "最长": "<=",
}  # fmt: skip
_AFTER_OPS = {
    "以上": ">=", "及以上": ">=", "（含）以上": ">=",
    "以下": "<=", "及以下": "<=", "（含）以下": "<=", "以内": "<=", "之内": "<=", "内": "<=",
}  # fmt: skip
_CAP_WORDS = ("最高", "最多", "最长")
_SUBJECT_BREAK = re.compile(r"[，。；：、,;:（）()\n]|或者|或|并且|且")
_SYNONYMS = {"社会保险": "社保", "缴纳": "缴费", "住房建筑面积": "建筑面积", "年收入": "营业收入"}
_MONEY_UNITS = {"元": 1, "万元": 10_000, "亿元": 100_000_000}
_UNIT_WORDS = {"㎡": "平方米", "％": "%"}


@dataclass(frozen=True)
class DraftCondition:
    """One proposed condition and the words it came from; `when` is None where no field fits."""

    id: str
    words: str  # the verbatim words of the clause it came from
    span: tuple[int, int]  # [start, end) of those words in the clause text
    subject: str  # the words before the number naming what is compared
    operator: str  # >=, >, <, <=
    number: Decimal
    unit: str
    field: str | None = None  # catalog label
    entity: str | None = None
    when: str | None = None
    kind: str = "condition"  # or "cap": a 最高/最多 amount of a benefit, not a condition to qualify
    note: str = ""

    @property
    def threshold(self) -> str:
        return f"{self.number.normalize():f}{self.unit}"


@dataclass(frozen=True)
class PolicyDraft:
    entity: str
    conditions: tuple[DraftCondition, ...]
    valid_from: date | None
    valid_to: date | None
    yaml: str
    dates: tuple[str, ...] = field(default_factory=tuple)


def catalogs() -> dict[str, Catalog]:
    """Every entity kind the catalog knows today (kinds added later are found the same way)."""
    found = {}
    for kind in ENTITY_KINDS:
        try:
            found[kind] = load_catalog(kind)
        except (FileNotFoundError, CatalogError, ModuleNotFoundError):
            continue
    return found


def _number(raw: str) -> Decimal | None:
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        return Decimal(raw)
    value = chinese_number(raw)
    return Decimal(value) if value is not None else None


def _subject(text: str, start: int) -> str:
    before = text[max(0, start - 24) : start]
    parts = _SUBJECT_BREAK.split(before)
    subject = parts[-1].strip() if parts else ""
    subject = re.sub(
        r"^第[零〇一二三四五六七八九十百千\d]+条(之[一二三四五六七八九十]+)?\s*", "", subject
    )
    return re.sub(r"^(且|并|或|和|及|其|须|应当|应|需|申请人|申请家庭)", "", subject)


def find_conditions(text: str) -> list[DraftCondition]:
    """Numeric conditions in `text`, in order: only phrases with a comparing word count."""
    found: list[DraftCondition] = []
    for m in _PHRASE.finditer(text):
        before, raw, unit, after = m.group(1), m.group(2), m.group(3), m.group(4)
        number = _number(raw)
        if number is None:
            continue
        op = _AFTER_OPS.get(after or "") or _BEFORE_OPS.get(before or "")
        if op is None:
            continue
        if before == "在" and not after:
            continue
        start = m.start(1) if before else m.start(2)
        unit = _UNIT_WORDS.get(unit, unit)
        subject = _subject(text, start)
        start -= len(subject)
        kind = "cap" if before in _CAP_WORDS and unit in _MONEY_UNITS else "condition"
        found.append(
            DraftCondition(
                id=f"c{len(found) + 1}",
                words=text[start : m.end()],
                span=(start, m.end()),
                subject=subject,
                operator=op,
                number=number,
                unit=unit,
                kind=kind,
            )
        )
    return found


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


def _fits(f: Field, unit: str) -> bool:
    if unit in ("周岁", "岁"):
        return f.type is FieldType.DATE and "出生" in f.label
    if unit in _MONEY_UNITS:
        return f.type is FieldType.MONEY
    if unit == "%":
        return f.type is FieldType.RATIO
    if unit in ("年", "个月", "月"):
        return f.type is FieldType.DATE or (f.type is FieldType.INTEGER and f.unit in ("月", "年"))
    if unit in ("人", "户", "件", "家", "平方米", "次", "小时"):
        return f.type is FieldType.INTEGER and (f.unit == unit or f.unit is None)
    return False


def match_field(subject: str, unit: str, kinds: dict[str, Catalog]) -> tuple[str, Field] | None:
    """The catalog field whose label and description share most with `subject` and fit `unit`."""
    if unit in ("周岁", "岁"):
        for kind, catalog in kinds.items():
            for f in catalog.fields:
                if _fits(f, unit):
                    return kind, f
        return None
    for word, canonical in _SYNONYMS.items():
        subject = subject.replace(word, canonical)
    words = _bigrams(subject)
    best: tuple[float, str, Field] | None = None
    for kind, catalog in kinds.items():
        for f in catalog.fields:
            if not _fits(f, unit):
                continue
            label = _bigrams(f.label)
            score = len(words & label) / len(label) + 0.3 * len(
                words & _bigrams(f.description)
            ) / max(len(words), 1)
            if score > 0.34 and (best is None or score > best[0]):
                best = (score, kind, f)
    return (best[1], best[2]) if best else None


def _expression(cond: DraftCondition, f: Field) -> tuple[str, str]:
    """The rule-language expression for `cond` over field `f`, and a note on any conversion."""
    n, op, unit = cond.number, cond.operator, cond.unit
    if unit in ("周岁", "岁"):  # an age is a birth date compared with today
        years = int(n)
        birth = {
            ">=": ("<=", years), ">": ("<=", years + 1), "<": (">", years), "<=": (">", years + 1),
        }[op]  # fmt: skip
        return (
            f"{f.label} {birth[0]} today() - {birth[1]}年",
            f"年龄 {op} {years} 周岁，换算为出生日期",
        )
    if f.type is FieldType.DATE:  # 成立/注册 N 年以内 … : a date within N years of today
        flipped = {">=": "<=", ">": "<", "<": ">", "<=": ">="}[op]
        return f"{f.label} {flipped} today() - {n.normalize():f}{unit}", "时长换算为日期"
    if f.type is FieldType.INTEGER and f.unit == "月" and unit == "年":
        return (
            f"{f.label} {op} {(n * 12).normalize():f}",
            f"{n.normalize():f}年换算为{(n * 12).normalize():f}个月",
        )
    if f.type is FieldType.INTEGER:
        return f"{f.label} {op} {n.normalize():f}", ""
    return f"{f.label} {op} {n.normalize():f}{unit}", ""


def draft_policy(
    text: str,
    *,
    policy_id: str,
    title: str,
    department: str,
    document: str,
    clause: str,
    valid_from: date | None = None,
    valid_to: date | None = None,
) -> PolicyDraft:
    """A draft policy file for the clause `text`: mapped conditions, and the rest left for the officer."""
    kinds = catalogs()
    drafted: list[DraftCondition] = []
    for cond in find_conditions(text):
        hit = match_field(cond.subject, cond.unit, kinds) if cond.kind == "condition" else None
        if hit is None:
            note = (
                "上限金额，写入 benefit.cap"
                if cond.kind == "cap"
                else "没有找到对应的字段，请选择或新增字段"
            )
            drafted.append(_replace(cond, note=note))
            continue
        kind, f = hit
        when, note = _expression(cond, f)
        drafted.append(_replace(cond, field=f.label, entity=kind, when=when, note=note))
    counts: dict[str, int] = {}
    for cond in drafted:
        if cond.entity:
            counts[cond.entity] = counts.get(cond.entity, 0) + 1
    entity = max(counts, key=lambda k: counts[k]) if counts else "person"
    conditions, unmapped = [], []
    for cond in drafted:
        evidence = (
            {"原文": cond.words, "位置": list(cond.span), "说明": cond.note}
            if cond.note
            else {"原文": cond.words, "位置": list(cond.span)}
        )
        if cond.when and cond.entity == entity:
            conditions.append(
                {
                    "id": cond.id,
                    "label": cond.words,
                    "when": cond.when,
                    "status": "draft",
                    "evidence": evidence,
                }
            )
        else:
            if cond.entity and cond.entity != entity:
                evidence["说明"] = f"字段“{cond.field}”属于 {cond.entity}，本政策主体为 {entity}"
            unmapped.append(
                {
                    "id": cond.id,
                    "label": cond.words,
                    "operator": cond.operator,
                    "threshold": cond.threshold,
                    **evidence,
                }
            )
    document_yaml = {
        "id": policy_id,
        "title": title,
        "draft": True,
        "summary": f"由《{document}》{clause}自动起草，待政策管理员核对确认",
        "department": department,
        "entity": entity,
        "source": {"document": document, "clause": clause},
    }
    if valid_from or valid_to:
        document_yaml["valid"] = {k: v for k, v in (("from", valid_from), ("to", valid_to)) if v}
    document_yaml["conditions"] = conditions
    if unmapped:
        document_yaml["unmapped"] = unmapped
    body = yaml.safe_dump(document_yaml, allow_unicode=True, sort_keys=False, width=100)
    header = (
        "# 草稿（政策拆解自动生成）：请逐条核对 when 表达式与原文；\n"
        "# unmapped 中的条件需选择字段后移入 conditions，或删除；确认前删去 draft: true 之外无需改动。\n"
    )
    return PolicyDraft(entity, tuple(drafted), valid_from, valid_to, header + body)


def _replace(cond: DraftCondition, **changes: object) -> DraftCondition:
    from dataclasses import replace

    return replace(cond, **changes)  # type: ignore[arg-type]


def finalize(text: str) -> tuple[str, list[str]]:
    """The confirmed policy YAML (draft marks removed) and what still stops confirmation."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        return text, ["政策文件应为键值对"]
    blocking = []
    unmapped = data.pop("unmapped", None) or []
    if unmapped:
        blocking.append(
            f"还有 {len(unmapped)} 个条件没有对应字段（unmapped）：请移入 conditions 或删除"
        )
    data.pop("draft", None)
    for cond in data.get("conditions") or []:
        if isinstance(cond, dict):
            cond.pop("status", None)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100), blocking
