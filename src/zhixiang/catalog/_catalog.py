"""Catalog model and loader; the catalog itself is data (one YAML file per entity kind)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path

import pyarrow as pa
import yaml

from zhixiang.errors import NotFound


class FieldType(StrEnum):
    BOOL = "bool"
    INTEGER = "integer"
    MONEY = "money"
    DECIMAL = "decimal"  # a measured quantity with a unit other than money, e.g. 建筑面积 in m²
    RATIO = "ratio"
    DATE = "date"
    REGION = "region"
    ENUM = "enum"
    TEXT = "text"
    IDENTIFIER = "identifier"


# How each type is stored in entity tables: money exact to the 分, ratios as exact fractions (3% = 0.03).
_ARROW_TYPES: dict[FieldType, pa.DataType] = {
    FieldType.BOOL: pa.bool_(),
    FieldType.INTEGER: pa.int64(),
    FieldType.MONEY: pa.decimal128(18, 2),
    FieldType.DECIMAL: pa.decimal128(18, 2),
    FieldType.RATIO: pa.decimal128(12, 6),
    FieldType.DATE: pa.date32(),
    FieldType.REGION: pa.string(),
    FieldType.ENUM: pa.string(),
    FieldType.TEXT: pa.string(),
    FieldType.IDENTIFIER: pa.string(),
}


class Sensitivity(StrEnum):
    """Levels of the data-sharing rules: who may see a field, and whether it is masked."""

    PUBLIC = "public"
    INTERNAL = "internal"
    PERSONAL = "personal"
    SENSITIVE_PERSONAL = "sensitive_personal"


#: The entity kinds whose catalogs ship with the package.
ENTITY_KINDS = (
    "enterprise",
    "person",
    "house",
    "household",
    "household_member",
    "house_owner",
    "person_enterprise",
)  # the bundled catalogs; a name is looked up only among these


class CatalogError(ValueError):
    """A catalog file that does not describe fields correctly."""


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: FieldType
    department: str
    unit: str | None = None
    sensitivity: Sensitivity = Sensitivity.INTERNAL
    values: tuple[str, ...] = ()
    description: str = ""
    mask: str | None = None  # how shared reads hide a personal value: id_number, name, phone, all

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.type]


@dataclass(frozen=True)
class Catalog:
    """The fields of one entity kind, found by English name or Chinese label.

    A link kind (户成员, 房屋产权人, 人员-企业) joins other kinds: `keys` holds all its key columns (`key` is
    the first) and `ends` says which kind each joining column points to, e.g. (("household_id",
    "household"), ("id_number", "person")).
    """

    entity: str
    key: str
    fields: tuple[Field, ...]
    keys: tuple[str, ...] = ()
    ends: tuple[tuple[str, str], ...] = ()
    _index: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_link(self) -> bool:
        return bool(self.ends)

    def __post_init__(self) -> None:
        if not self.keys:
            object.__setattr__(self, "keys", (self.key,))
        for f in self.fields:
            for alias in (f.name, f.label):
                if alias in self._index and self._index[alias] is not f:
                    raise CatalogError(f"{self.entity}: 字段名或中文名重复: {alias}")
                self._index[alias] = f
        for key in (*self.keys, *(name for name, _kind in self.ends)):
            if key not in self._index:
                raise CatalogError(f"{self.entity}: 主键或关联字段 {key} 不在字段表中")

    def get(self, name_or_label: str) -> Field | None:
        return self._index.get(name_or_label)

    def __getitem__(self, name_or_label: str) -> Field:
        found = self.get(name_or_label)
        if found is None:
            raise KeyError(name_or_label)
        return found

    def __contains__(self, name_or_label: object) -> bool:
        return name_or_label in self._index

    def arrow_schema(self) -> pa.Schema:
        """The schema of this kind's entity table, columns named by English field names."""
        return pa.schema([(f.name, f.arrow_type) for f in self.fields])


def _parse(entity: str, doc: dict) -> Catalog:
    fields = []
    for i, raw in enumerate(doc.get("fields", []), start=1):
        try:
            fields.append(
                Field(
                    name=raw["name"],
                    label=raw["label"],
                    type=FieldType(raw["type"]),
                    department=raw["department"],
                    unit=raw.get("unit"),
                    sensitivity=Sensitivity(raw.get("sensitivity", "internal")),
                    values=tuple(raw.get("values", ())),
                    description=raw.get("description", ""),
                    mask=raw.get("mask"),
                )
            )
        except (KeyError, ValueError) as exc:
            raise CatalogError(f"{entity}: 第{i}个字段定义错误: {exc}") from exc
    keys = doc["key"] if isinstance(doc["key"], list) else [doc["key"]]
    ends = doc.get("ends") or {}
    return Catalog(
        entity=entity,
        key=str(keys[0]),
        fields=tuple(fields),
        keys=tuple(str(k) for k in keys),
        ends=tuple((str(k), str(v)) for k, v in ends.items()),
    )


@cache
def load_catalog(entity: str = "enterprise", path: Path | None = None) -> Catalog:
    """Load the catalog of an entity kind from the bundled YAML (or from `path`).

    Only the bundled kinds are looked up by name: a name is never made into a path of its own.
    """
    if path is None:
        if entity not in ENTITY_KINDS:
            raise NotFound(
                f"没有名为 {entity[:40]!r} 的实体目录，应为 {'/'.join(ENTITY_KINDS)}", "entity"
            )
        text = resources.files(__package__).joinpath(f"{entity}.yaml").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    return _parse(entity, yaml.safe_load(text))
