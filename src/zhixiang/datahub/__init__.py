"""The data hub (数据按需共享): departments' extracts validated, joined into entity tables, shared by grant.

Other capabilities import only from here. The rules engine reads the entity tables `enterprise`,
`person`, `house` (and `link`) that `import_sources` writes into the warehouse, and the residents'
`household` with the link tables `household_member`, `house_owner`, `person_enterprise`
(docs/residents.md).
"""

from zhixiang.datahub._audit import (
    AuditFinding,
    AuditRecord,
    AuditSeal,
    AuditVerification,
    append_audit,
    audit_records,
    verify_audit,
)
from zhixiang.datahub._hub import (
    ImportReport,
    SourceImport,
    conflict_rows,
    ensure_tables,
    import_into,
    import_sources,
    list_imports,
    quarantine_rows,
)
from zhixiang.datahub._links import RESIDENT_KINDS, resident_quarantine_counts
from zhixiang.datahub._mapping import (
    LINK_KINDS,
    MONEY_UNITS,
    ColumnMap,
    LinkMap,
    Mapping,
    MappingError,
    load_mapping,
    parse_mapping,
)
from zhixiang.datahub._quality import SMALL_COUNT, FieldQuality, SourceQuality, quality_report
from zhixiang.datahub._redact import redact_quarantine, redact_text
from zhixiang.datahub._sharing import (
    OWN_RECORD_PURPOSE,
    AccessDenied,
    CatalogEntry,
    Grant,
    GrantError,
    SharedRead,
    audit_log,
    create_grant,
    data_catalog,
    entity_digest,
    list_grants,
    mask_values,
    read_entities,
    read_own_record,
    revoke_grant,
)
from zhixiang.datahub._sources import ExtractError, read_extract
from zhixiang.datahub._validate import validate_extract
from zhixiang.datahub._warehouse import Warehouse, WarehouseBusy, WarehouseError, open_warehouse

__all__ = [
    "LINK_KINDS",
    "MONEY_UNITS",
    "OWN_RECORD_PURPOSE",
    "RESIDENT_KINDS",
    "SMALL_COUNT",
    "AccessDenied",
    "AuditFinding",
    "AuditRecord",
    "AuditSeal",
    "AuditVerification",
    "CatalogEntry",
    "ColumnMap",
    "ExtractError",
    "FieldQuality",
    "Grant",
    "GrantError",
    "ImportReport",
    "LinkMap",
    "Mapping",
    "MappingError",
    "SharedRead",
    "SourceImport",
    "SourceQuality",
    "Warehouse",
    "WarehouseBusy",
    "WarehouseError",
    "append_audit",
    "audit_log",
    "audit_records",
    "conflict_rows",
    "create_grant",
    "data_catalog",
    "ensure_tables",
    "entity_digest",
    "import_into",
    "import_sources",
    "list_grants",
    "list_imports",
    "load_mapping",
    "mask_values",
    "open_warehouse",
    "parse_mapping",
    "quality_report",
    "quarantine_rows",
    "read_entities",
    "read_extract",
    "read_own_record",
    "redact_quarantine",
    "redact_text",
    "resident_quarantine_counts",
    "revoke_grant",
    "validate_extract",
    "verify_audit",
]
