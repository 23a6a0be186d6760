"""Mapping files: how one department's extract becomes catalog facts (a data officer writes these)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from zhixiang.catalog import Catalog, FieldType, load_catalog

FORMATS = ("csv", "excel", "parquet", "sql")
ENTITIES = (
    "enterprise",
    "person",
    "house",
    "household",
    "household_member",
    "house_owner",
    "person_enterprise",
)

# How many 元 one source unit is; ratios: how many units make a whole (3% = 0.03).
MONEY_UNITS = {
    "元": 1,
    "分": 0.01,
    "千元": 1_000,
    "万元": 10_000,
    "百万元": 1_000_000,
    "亿元": 100_000_000,
}
RATIO_UNITS = {"比例": 1, "%": 100, "‰": 1_000}

# Links between entities: kind → (from entity, to entity). The source's own entity is the "from" side.
LINK_KINDS: dict[str, tuple[str, str]] = {
    "works_at": ("person", "enterprise"),
    "owns": ("person", "house"),
    "lives_in": ("person", "house"),
    "located_at": ("enterprise", "house"),
}

DEFAULT_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%Y.%m.%d",
    "%Y年%m月%d日",
    "%Y-%m-%d %H:%M:%S",
)
DEFAULT_NULLS = ("", "-", "—", "NULL", "null", "N/A", "n/a", "无数据")


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class ColumnMap:
    """One source column feeding one catalog field."""

    column: str
    field: str
    unit: str | None = None
    codes: tuple[tuple[str, str], ...] = ()
    date_formats: tuple[str, ...] = ()


@dataclass(frozen=True)
class LinkMap:
    """A source column holding the key of another entity (e.g. the employer's 统一社会信用代码)."""

    kind: str
    column: str

    @property
    def target(self) -> str:
        return LINK_KINDS[self.kind][1]


@dataclass(frozen=True)
class Mapping:
    """A registered source: where its extract is, which entity it describes, how its columns map."""

    source: str
    department: str
    entity: str
    priority: int
    format: str
    location: str
    key: str
    columns: tuple[ColumnMap, ...]
    links: tuple[LinkMap, ...] = ()
    encoding: str = "auto"
    delimiter: str = ","
    sheet: str | None = None
    header_rows: int | None = None
    table: str | None = None
    db_schema: str | None = None
    null_values: tuple[str, ...] = DEFAULT_NULLS
    text: str = ""

    @property
    def catalog(self) -> Catalog:
        return load_catalog(self.entity)

    @property
    def key_column(self) -> ColumnMap:
        return next(c for c in self.columns if c.column == self.key)

    def with_location(self, location: str) -> Mapping:
        """The same mapping over another extract (a newer file of the same layout)."""
        return replace(self, location=location)


def _fail(where: str, message: str) -> MappingError:
    return MappingError(f"{where}: {message}")


def parse_mapping(doc: Any, where: str = "映射", base: Path | None = None) -> Mapping:
    """Check a mapping document against the catalog; every error names the key that is wrong."""
    if not isinstance(doc, dict):
        raise _fail(where, "映射文件应为键值结构")
    for required in ("source", "department", "entity", "format", "key", "columns"):
        if required not in doc:
            raise _fail(where, f"缺少必填项 {required}")
    entity = doc["entity"]
    if entity not in ENTITIES:
        raise _fail(where, f"entity 应为 {'/'.join(ENTITIES)} 之一，实为 {entity!r}")
    fmt = doc["format"]
    if fmt not in FORMATS:
        raise _fail(where, f"format 应为 {'/'.join(FORMATS)} 之一，实为 {fmt!r}")
    catalog = load_catalog(entity)
    if fmt == "sql":
        if "url" not in doc or "table" not in doc:
            raise _fail(where, "format: sql 需要 url 和 table")
        location = str(doc["url"])
    else:
        if "path" not in doc:
            raise _fail(where, f"format: {fmt} 需要 path")
        path = Path(doc["path"])
        location = str(path if path.is_absolute() or base is None else (base / path))
    if not isinstance(doc["columns"], dict) or not doc["columns"]:
        raise _fail(where, "columns 应为 '源列名: 字段' 的列表")
    columns = []
    seen_fields: dict[str, str] = {}
    for column, spec in doc["columns"].items():
        here = f"{where} columns.{column}"
        if isinstance(spec, str):
            spec = {"field": spec}
        if not isinstance(spec, dict) or "field" not in spec:
            raise _fail(
                here, "应写字段名，或 {field: 字段, unit: 单位, codes: {...}, format: 日期格式}"
            )
        field = catalog.get(str(spec["field"]))
        if field is None:
            raise _fail(here, f"目录中没有字段 {spec['field']!r}（{entity}）")
        if field.name in seen_fields:
            raise _fail(here, f"字段 {field.label} 已由列 {seen_fields[field.name]!r} 提供")
        seen_fields[field.name] = str(column)
        unit = spec.get("unit")
        if unit is not None:
            allowed = MONEY_UNITS if field.type is FieldType.MONEY else RATIO_UNITS
            if field.type not in (FieldType.MONEY, FieldType.RATIO) or unit not in allowed:
                raise _fail(
                    here, f"字段 {field.label} 不能用单位 {unit!r}（可用: {'、'.join(allowed)}）"
                )
        codes = spec.get("codes") or {}
        if not isinstance(codes, dict):
            raise _fail(here, "codes 应为 '源值: 目录值' 的对照表")
        formats = spec.get("format") or ()
        if isinstance(formats, str):
            formats = (formats,)
        if formats and field.type is not FieldType.DATE:
            raise _fail(here, f"只有日期字段可写 format，{field.label} 是 {field.type}")
        columns.append(
            ColumnMap(
                column=str(column),
                field=field.name,
                unit=unit,
                codes=tuple((str(k), _code_value(v)) for k, v in codes.items()),
                date_formats=tuple(str(f) for f in formats),
            )
        )
    key = str(doc["key"])
    key_map = next((c for c in columns if c.column == key), None)
    if key_map is None or key_map.field != catalog.key:
        raise _fail(where, f"key 应为映射到 {catalog[catalog.key].label} 的源列，实为 {key!r}")
    unmapped = [k for k in catalog.keys if k not in seen_fields]
    if unmapped:  # a link kind's row is known only by all its key columns
        raise _fail(where, f"缺少主键列: {'、'.join(catalog[k].label for k in unmapped)}")
    links = []
    for i, raw in enumerate(doc.get("links") or (), start=1):
        kind = raw.get("kind") if isinstance(raw, dict) else None
        if kind not in LINK_KINDS or LINK_KINDS[kind][0] != entity or "column" not in raw:
            kinds = [k for k, (a, _) in LINK_KINDS.items() if a == entity]
            raise _fail(f"{where} links[{i}]", f"应为 {{kind: {'/'.join(kinds)}, column: 源列名}}")
        links.append(LinkMap(kind=kind, column=str(raw["column"])))
    header_rows = doc.get("header_rows")
    if header_rows is not None and (not isinstance(header_rows, int) or header_rows < 1):
        raise _fail(where, "header_rows 应为正整数")
    return Mapping(
        source=str(doc["source"]),
        department=str(doc["department"]),
        entity=entity,
        priority=int(doc.get("priority", 0)),
        format=fmt,
        location=location,
        key=key,
        columns=tuple(columns),
        links=tuple(links),
        encoding=str(doc.get("encoding", "auto")).lower(),
        delimiter=str(doc.get("delimiter", ",")),
        sheet=doc.get("sheet"),
        header_rows=header_rows,
        table=doc.get("table"),
        db_schema=doc.get("schema"),
        null_values=tuple(str(v) for v in doc.get("null_values", DEFAULT_NULLS)),
        text=yaml.safe_dump(_without_password(doc), allow_unicode=True, sort_keys=False),
    )


def _without_password(doc: dict) -> dict:
    """The mapping as kept in the import log: a database URL loses its password."""
    if "url" not in doc:
        return doc
    from sqlalchemy.engine import make_url

    try:
        url = make_url(str(doc["url"])).render_as_string(hide_password=True)
    except Exception:
        url = "（无法解析的地址）"
    return {**doc, "url": url}


def _code_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_mapping(path: Path | str) -> Mapping:
    """Read a mapping YAML; relative extract paths are relative to the mapping file."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise MappingError(f"{path}: 无法读取映射文件 ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise MappingError(
            f"{path}: 映射文件不是 UTF-8 编码（第 {exc.start + 1} 个字节起无法解码），请另存为 UTF-8"
        ) from exc
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: YAML 语法错误 {exc}") from exc
    return parse_mapping(doc, where=str(path), base=path.resolve().parent)
