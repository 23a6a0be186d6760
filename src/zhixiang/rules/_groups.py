"""Groups of persons: a household's members with their roles, and the facts derived for each member.

A household policy reads its members through `成员` (all of them) or a role (`申请人`, `子女` …);
each member is a person with the person catalog's fields plus facts derived where the policy runs:
年龄 on the evaluation date, 家庭角色, and (from house_owner links) 有房 and 名下住房面积.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from zhixiang.catalog import Catalog, Field, FieldType, Sensitivity, load_catalog

MEMBERS = "成员"
MEMBERS_KEY = (
    "__members__"  # where a household's facts carry its members (a tuple of fact mappings)
)
ROLES = ("申请人", "配偶", "子女", "父母", "其他")
SINGLE_ROLES = ("申请人", "配偶")  # at most one per household, so `申请人.户籍地` is one value
GROUP_ENTITIES = {"household": "person"}  # a group entity and the kind of its members

AGE = Field(
    "age",
    "年龄",
    FieldType.INTEGER,
    "公安局",
    unit="岁",
    sensitivity=Sensitivity.PERSONAL,
    description="评估日的周岁：由出生日期计算，出生日期缺失时由身份证号第7–14位计算",
)
ROLE = Field(
    "role", "家庭角色", FieldType.ENUM, "民政局", values=ROLES, sensitivity=Sensitivity.PERSONAL
)
OWNS_HOUSE = Field(
    "owns_house",
    "有房",
    FieldType.BOOL,
    "自然资源和规划局",
    sensitivity=Sensitivity.PERSONAL,
    description="名下有产权份额大于0的房屋（不动产登记 house_owner）",
)
OWNED_AREA = Field(
    "owned_area",
    "名下住房面积",
    FieldType.DECIMAL,
    "自然资源和规划局",
    unit="平方米",
    sensitivity=Sensitivity.PERSONAL,
    description="名下各房屋建筑面积×产权份额之和",
)
DERIVED = (AGE, OWNS_HOUSE, OWNED_AREA)


@cache
def member_catalog(entity: str = "person") -> Catalog:
    """The fields a member of a group (or a person policy) can be asked about."""
    base = load_catalog(entity)
    extra = [f for f in (*DERIVED, ROLE) if f.name not in {b.name for b in base.fields}]
    return Catalog(entity="member", key=base.key, fields=(*base.fields, *extra))


@cache
def person_scope_catalog() -> Catalog:
    """A person policy's fields: the person catalog plus the derived facts (no role)."""
    base = load_catalog("person")
    extra = [f for f in DERIVED if f.name not in {b.name for b in base.fields}]
    return Catalog(entity="person", key=base.key, fields=(*base.fields, *extra))


def scope_catalogs(entity: str) -> tuple[Catalog, Catalog | None]:
    """The catalog a policy's names resolve in, and its members' catalog when it is a group."""
    if entity == "person":
        return person_scope_catalog(), None
    if entity in GROUP_ENTITIES:
        return load_catalog(entity), member_catalog(GROUP_ENTITIES[entity])
    return load_catalog(entity), None


def birth_date_of_id(id_number: object) -> date | None:
    """The birth date written in an 18-digit 身份证号 (digits 7–14), or None if it is not one."""
    text = str(id_number or "")
    if len(text) != 18 or not text[6:14].isdigit():
        return None
    try:
        return date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return None
