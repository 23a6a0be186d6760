"""The data hub (数据按需共享): departments' extracts validated, joined into entity tables, shared by grant."""

from zhixiang.datahub._hub import (
    ImportReport,
    SourceImport,
    conflict_rows,
    ensure_tables,
    import_sources,
    list_imports,
    quarantine_rows,
)
from zhixiang.datahub._mapping import (
    LINK_KINDS,
    ColumnMap,
    LinkMap,
    Mapping,
    MappingError,
    load_mapping,
    parse_mapping,
)
from zhixiang.datahub._sources import ExtractError, read_extract
from zhixiang.datahub._validate import validate_extract
from zhixiang.datahub._warehouse import Warehouse, WarehouseError, open_warehouse

__all__ = [
    "LINK_KINDS",
    "ColumnMap",
    "ExtractError",
    "ImportReport",
    "LinkMap",
    "Mapping",
    "MappingError",
    "SourceImport",
    "Warehouse",
    "WarehouseError",
    "conflict_rows",
    "ensure_tables",
    "import_sources",
    "list_imports",
    "load_mapping",
    "open_warehouse",
    "parse_mapping",
    "quarantine_rows",
    "read_extract",
    "validate_extract",
]
