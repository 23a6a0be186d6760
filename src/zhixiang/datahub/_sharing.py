"""Sharing on demand (按需共享): a grant lets a department or a policy read named fields for a stated
purpose until a date; reads return only granted fields, mask personal ones and leave an audit record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from zhixiang.access import DepartmentDirectory, Principal
from zhixiang.catalog import Field, Sensitivity, load_catalog
from zhixiang.datahub._audit import (
    AUDIT,
    AUDIT_SCHEMA,
    AuditSeal,
    append_audit,
    ensure_audit_table,
)
from zhixiang.datahub._hub import ensure_tables
from zhixiang.datahub._mapping import ENTITIES
from zhixiang.datahub._warehouse import Warehouse, quote
from zhixiang.errors import Forbidden, NotFound

GRANTS = "dh_grants"
GRANTS_SCHEMA = pa.schema(
    [
        ("grant_id", pa.int64()),
        ("grantee", pa.string()),
        ("grantee_kind", pa.string()),
        ("entity", pa.string()),
        ("fields", pa.string()),
        ("purpose", pa.string()),
        ("valid_until", pa.date32()),
        ("clear", pa.bool_()),
        ("granted_by", pa.string()),
        ("granted_at", pa.timestamp("us")),
        ("revoked_at", pa.timestamp("us")),
    ]
)
PERSONAL = (Sensitivity.PERSONAL, Sensitivity.SENSITIVE_PERSONAL)
GRANTEE_KINDS = ("department", "policy")


class AccessDenied(PermissionError):
    """A read that no grant allows; the message says what is missing."""


class GrantError(ValueError):
    """A grant that cannot be made as asked."""


@dataclass(frozen=True)
class CatalogEntry:
    entity: str
    name: str
    label: str
    type: str
    unit: str | None
    department: str
    sensitivity: str
    masked_as: str | None


def data_catalog(entity: str | None = None) -> list[CatalogEntry]:
    """Every field of the entity tables with its owner department and sensitivity level.

    Only the known entity kinds are looked up: a name is never turned into a file path.
    """
    if entity and entity not in ENTITIES:
        raise NotFound(f"没有名为 {entity[:40]!r} 的实体，应为 {'/'.join(ENTITIES)}", "entity")
    entries = []
    for kind in [entity] if entity else ENTITIES:
        for f in load_catalog(kind).fields:
            entries.append(
                CatalogEntry(
                    kind,
                    f.name,
                    f.label,
                    str(f.type),
                    f.unit,
                    f.department,
                    str(f.sensitivity),
                    _mask_kind(f) if f.sensitivity in PERSONAL else None,
                )
            )
    return entries


@dataclass(frozen=True)
class Grant:
    grant_id: int
    grantee: str
    grantee_kind: str
    entity: str
    fields: tuple[str, ...]
    purpose: str
    valid_until: dt.date
    clear: bool
    granted_by: str
    granted_at: dt.datetime
    revoked_at: dt.datetime | None = None

    def active(self, today: dt.date) -> bool:
        return self.revoked_at is None and self.valid_until >= today

    def involves(self, department: str | None) -> bool:
        """Whether `department` receives this grant or one of its staff made it (`api:<id>:<dept>`)."""
        return department is not None and department in (
            self.grantee,
            self.granted_by.rsplit(":", 1)[-1],
        )


def _ensure_grants(wh: Warehouse) -> None:
    wh.create_table(GRANTS, GRANTS_SCHEMA)


def create_grant(
    wh: Warehouse,
    *,
    grantee: str,
    entity: str,
    fields: Sequence[str],
    purpose: str,
    valid_until: dt.date,
    clear: bool = False,
    grantee_kind: str = "department",
    granted_by: str = "",
    today: dt.date | None = None,
    by: Principal | None = None,
    directory: DepartmentDirectory | None = None,
) -> Grant:
    """Record a grant; fields may be named by English name or Chinese label.

    With `directory`, a department grantee must be in it (named by code, name or alias; the grant
    keeps the code, which is what a reader's key carries). With `by`, separation of duties holds:
    nobody grants themselves or their own department, another department's officer must.
    """
    today = today or dt.date.today()
    if entity not in ENTITIES:
        raise GrantError(f"未知实体 {entity!r}，应为 {'/'.join(ENTITIES)}")
    if grantee_kind not in GRANTEE_KINDS:
        raise GrantError(f"被授权方类型应为 department 或 policy，实为 {grantee_kind!r}")
    grantee = grantee.strip()
    if not grantee:
        raise GrantError("被授权方不能为空")
    if grantee_kind == "department" and directory is not None:
        found = directory.get(grantee)
        if found is None:
            raise GrantError(f"部门目录中没有被授权方“{grantee[:40]}”")
        grantee = found.code
    if by is not None and grantee in (by.id, by.department):
        raise Forbidden(
            f"不能为本人或本部门（{grantee}）授权：须由另一部门的数据管理员授予", "grantee"
        )
    if not purpose.strip():
        raise GrantError("授权必须写明用途")
    if valid_until < today:
        raise GrantError(f"有效期 {valid_until} 已过")
    catalog = load_catalog(entity)
    unknown = [f for f in fields if f not in catalog]
    if unknown or not fields:
        raise GrantError(f"{entity} 目录中没有字段: {'、'.join(unknown) or '（未指定字段）'}")
    names = tuple(dict.fromkeys(catalog[f].name for f in fields))
    _ensure_grants(wh)
    with wh.transaction():
        wh.lock(GRANTS)
        grant_id = int(wh.rows(f"SELECT coalesce(max(grant_id), 0) FROM {GRANTS}")[0][0]) + 1
        grant = Grant(
            grant_id,
            grantee,
            grantee_kind,
            entity,
            names,
            purpose.strip(),
            valid_until,
            clear,
            granted_by,
            dt.datetime.now(dt.UTC).replace(tzinfo=None),
        )
        row = {**grant.__dict__, "fields": ",".join(names)}
        wh.append(GRANTS, pa.Table.from_pylist([row], schema=GRANTS_SCHEMA))
    return grant


def revoke_grant(wh: Warehouse, grant_id: int) -> None:
    _ensure_grants(wh)
    if not wh.rows(f"SELECT 1 FROM {GRANTS} WHERE grant_id = ?", [grant_id]):
        raise GrantError(f"没有编号为 {grant_id} 的授权")
    wh.execute(
        f"UPDATE {GRANTS} SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL",
        [dt.datetime.now(dt.UTC).replace(tzinfo=None), grant_id],
    )


def list_grants(wh: Warehouse, grantee: str | None = None) -> list[Grant]:
    _ensure_grants(wh)
    where, params = ("WHERE grantee = ?", [grantee]) if grantee else ("", [])
    table = wh.arrow(
        f"SELECT * FROM {GRANTS} {where} ORDER BY grant_id", params, schema=GRANTS_SCHEMA
    )
    return [
        Grant(**{**row, "fields": tuple(row["fields"].split(","))}) for row in table.to_pylist()
    ]


def _subjects(keys: Sequence[str] | None) -> str:
    """Which entities were asked for, as digests: the audit log never holds a raw 身份证号."""
    if not keys:
        return "未指定（按顺序读取）"
    secret = AuditSeal.from_settings().key()
    shown = [entity_digest(k, secret) for k in list(dict.fromkeys(keys))[:20]]
    more = len(set(keys)) - len(shown)
    return ",".join(shown) + (f" 等{len(set(keys))}个" if more > 0 else "")


def entity_digest(key: str, secret: bytes | None = None) -> str:
    """How an entity key is written in audit records: an HMAC under the audit key (`hmac:` and 16 hex
    digits). A plain hash of a 身份证号 could be reversed by hashing every valid number; under the
    key only its holder (the auditor, `zhixiang audit`) can tell whose record it is."""
    secret = secret if secret is not None else AuditSeal.from_settings().key()
    assert secret is not None  # key() creates it when missing
    mac = hmac.new(secret, b"zhixiang-entity:" + key.encode("utf-8"), hashlib.sha256)
    return "hmac:" + mac.hexdigest()[:16]


def audit_log(wh: Warehouse, limit: int = 50, reader: str | None = None) -> pa.Table:
    """The newest audit records (only those of reads by `reader`'s department, when given)."""
    ensure_audit_table(wh)
    where, params = "", []
    if reader is not None:
        where, params = "WHERE actor = ? OR starts_with(actor, ?)", [reader, f"{reader} via "]
    return wh.arrow(
        f"SELECT * FROM {AUDIT} {where} ORDER BY seq DESC LIMIT {max(int(limit), 0)}",
        params,
        schema=AUDIT_SCHEMA,
    )


# -- masking ----------------------------------------------------------------------------------------


def _mask_kind(field: Field) -> str:
    return field.mask or "all"


def mask_values(values: pa.Array | pa.ChunkedArray, kind: str) -> pa.Array | pa.ChunkedArray:
    """Mask a column: id_number → 3502**********1234, name → 张*, phone → 138****5678, all → ***."""
    if kind == "all":
        return pc.if_else(pc.is_null(values), pa.scalar(None, pa.string()), pa.scalar("***"))
    text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    if kind == "id_number":
        return pc.utf8_replace_slice(text, start=4, stop=-4, replacement="*" * 10)
    if kind == "name":
        return pc.utf8_replace_slice(text, start=1, stop=1 << 30, replacement="*")
    if kind == "phone":
        return pc.utf8_replace_slice(text, start=3, stop=7, replacement="****")
    raise ValueError(f"未知的脱敏方式 {kind!r}")


# -- reads ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedRead:
    """What a reader got: the rows, which fields came clear or masked, what was withheld and why."""

    table: pa.Table
    fields: tuple[str, ...]
    masked: tuple[str, ...]
    withheld: tuple[str, ...]
    grants: tuple[int, ...]
    audit_seq: int | None


def read_entities(
    wh: Warehouse,
    entity: str,
    *,
    reader: str,
    purpose: str,
    fields: Sequence[str] | None = None,
    keys: Sequence[str] | None = None,
    limit: int | None = 1000,
    via: str = "",
    today: dt.date | None = None,
    seal: AuditSeal | None = None,
) -> SharedRead:
    """Read entity rows as `reader` for `purpose`: public fields plus what active grants allow.

    A read that touches personal fields (masked or clear) is written to the audit log before the rows
    are returned. `seal`: the audit key's place, for a caller that reads often (else from settings).
    """
    today = today or dt.date.today()
    if entity not in ENTITIES:
        raise AccessDenied(f"未知实体 {entity!r}")
    if not purpose.strip():
        raise AccessDenied("读取数据必须写明用途")
    catalog = load_catalog(entity)
    requested = [catalog[f].name for f in fields] if fields else [f.name for f in catalog.fields]
    unknown = [f for f in (fields or ()) if f not in catalog]
    if unknown:
        raise AccessDenied(f"{entity} 目录中没有字段: {'、'.join(unknown)}")
    grants = [
        g
        for g in list_grants(wh, reader)
        if g.entity == entity and g.purpose == purpose.strip() and g.active(today)
    ]
    granted = {f for g in grants for f in g.fields}
    clear = {f for g in grants if g.clear for f in g.fields}
    public = {f.name for f in catalog.fields if f.sensitivity is Sensitivity.PUBLIC}
    allowed = [f for f in requested if f in granted or f in public]
    withheld = tuple(f for f in requested if f not in allowed)
    if not allowed:
        raise AccessDenied(
            f"{reader} 没有以“{purpose}”为用途读取 {entity} 字段 {'、'.join(requested)} 的有效授权"
        )
    if not wh.has_table(entity):  # one look, not one per hub table, on every read
        ensure_tables(wh)
    sql = f"SELECT {', '.join(quote(f) for f in allowed)} FROM {quote(entity)}"
    params: list[object] = []
    if keys:
        sql += f" WHERE {quote(catalog.key)} IN ({', '.join('?' for _ in keys)})"
        params.extend(keys)
    sql += f" ORDER BY {quote(catalog.key)}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    schema = pa.schema([(f, catalog[f].arrow_type) for f in allowed])
    table = wh.arrow(sql, params, schema=schema)
    masked = []
    for f in allowed:
        field = catalog[f]
        if field.sensitivity in PERSONAL and f not in clear:
            i = table.column_names.index(f)
            table = table.set_column(i, f, mask_values(table[f], _mask_kind(field)))
            masked.append(f)
    personal = [f for f in allowed if catalog[f].sensitivity in PERSONAL]
    protected = [f for f in allowed if catalog[f].sensitivity is not Sensitivity.PUBLIC]
    seq = None
    if protected:
        record = append_audit(
            wh,
            seal=seal,
            actor=f"{reader}{' via ' + via if via else ''}",
            purpose=purpose.strip(),
            entity=entity,
            fields=allowed,
            rows=table.num_rows,
            detail=(
                f"授权 {','.join(str(g.grant_id) for g in grants) or '无'}；"
                f"明文 {','.join(f for f in personal if f not in masked) or '无'}；"
                f"脱敏 {','.join(masked) or '无'}；"
                f"主体 {_subjects(keys)}"
            ),
        )
        seq = record.seq
    return SharedRead(
        table, tuple(allowed), tuple(masked), withheld, tuple(g.grant_id for g in grants), seq
    )


#: The purpose written in the audit log when an entity reads its own record.
OWN_RECORD_PURPOSE = "本主体查阅本主体数据"


def read_own_record(wh: Warehouse, entity: str, key: str, *, via: str) -> SharedRead:
    """The one row of `key`, read by that entity itself (an enterprise's own account): every field,
    clear, since it is the entity's own data (个人信息保护法第四十五条: the subject may consult it);
    audited like any read, with the entity as the actor. The caller proves who the reader is."""
    if entity not in ENTITIES:
        raise AccessDenied(f"未知实体 {entity!r}")
    catalog = load_catalog(entity)
    fields = [f.name for f in catalog.fields]
    ensure_tables(wh)
    schema = pa.schema([(f, catalog[f].arrow_type) for f in fields])
    table = wh.arrow(
        f"SELECT {', '.join(quote(f) for f in fields)} FROM {quote(entity)} "
        f"WHERE {quote(catalog.key)} = ? LIMIT 1",
        [key],
        schema=schema,
    )
    record = append_audit(
        wh,
        actor=f"{entity_digest(key)} via {via}",
        purpose=OWN_RECORD_PURPOSE,
        entity=entity,
        fields=fields,
        rows=table.num_rows,
        detail=f"本主体查阅；明文 全部；主体 {_subjects([key])}",
    )
    return SharedRead(table, tuple(fields), (), (), (), record.seq)
