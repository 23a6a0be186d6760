"""The audit log of personal-data reads: append-only, each record chained to the previous by SHA-256,
so any edit, deletion or reordering of a past record is found by `verify_audit`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import pyarrow as pa

from zhixiang.datahub._warehouse import Warehouse

AUDIT = "dh_audit"
GENESIS = "0" * 64
AUDIT_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("at", pa.string()),
        ("actor", pa.string()),
        ("purpose", pa.string()),
        ("entity", pa.string()),
        ("fields", pa.string()),
        ("rows", pa.int64()),
        ("detail", pa.string()),
        ("prev_hash", pa.string()),
        ("hash", pa.string()),
    ]
)
_CHAINED = ("seq", "at", "actor", "purpose", "entity", "fields", "rows", "detail", "prev_hash")


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: str
    actor: str
    purpose: str
    entity: str
    fields: str
    rows: int
    detail: str
    prev_hash: str
    hash: str


def record_hash(record: dict) -> str:
    """SHA-256 over the canonical JSON of the chained fields (the previous hash included)."""
    payload = json.dumps([record[k] for k in _CHAINED], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def ensure_audit_table(wh: Warehouse) -> None:
    if wh.has_table(AUDIT):
        return
    wh.create_table(AUDIT, AUDIT_SCHEMA)
    if wh.dialect == "postgres":
        # In production the database itself refuses to change or delete a past record.
        wh.execute(
            """CREATE OR REPLACE FUNCTION dh_audit_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '审计日志只能追加，不能修改或删除'; END $$ LANGUAGE plpgsql"""
        )
        wh.execute(
            f"CREATE TRIGGER dh_audit_append_only BEFORE UPDATE OR DELETE ON {AUDIT} "
            "FOR EACH ROW EXECUTE FUNCTION dh_audit_append_only()"
        )


def append_audit(
    wh: Warehouse,
    *,
    actor: str,
    purpose: str,
    entity: str,
    fields: list[str],
    rows: int,
    detail: str = "",
    at: dt.datetime | None = None,
) -> AuditRecord:
    """Append one record; concurrent writers are serialised so the chain never forks."""
    ensure_audit_table(wh)
    at = at or dt.datetime.now(dt.UTC)
    with wh.transaction():
        wh.lock(AUDIT)
        last = wh.rows(f"SELECT seq, hash FROM {AUDIT} ORDER BY seq DESC LIMIT 1")
        seq, prev = (int(last[0][0]) + 1, last[0][1]) if last else (1, GENESIS)
        record = {
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "purpose": purpose,
            "entity": entity,
            "fields": ",".join(fields),
            "rows": rows,
            "detail": detail,
            "prev_hash": prev,
        }
        record["hash"] = record_hash(record)
        wh.append(AUDIT, pa.Table.from_pylist([record], schema=AUDIT_SCHEMA))
    return AuditRecord(**record)


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    records: int
    problem: str = ""
    seq: int | None = None


def verify_audit(wh: Warehouse) -> AuditVerification:
    """Recompute the chain from the first record; report the first record that does not fit."""
    ensure_audit_table(wh)
    table = wh.arrow(f"SELECT * FROM {AUDIT} ORDER BY seq", schema=AUDIT_SCHEMA)
    prev = GENESIS
    expected_seq = 1
    count = 0
    for record in table.to_pylist():
        count += 1
        seq = record["seq"]
        if seq != expected_seq:
            return AuditVerification(
                False,
                count,
                f"序号不连续: 应为第{expected_seq}条，实为第{seq}条（记录被删除或插入）",
                seq,
            )
        if record["prev_hash"] != prev:
            return AuditVerification(
                False, count, f"第{seq}条的前序哈希与第{seq - 1}条不符（链被改动）", seq
            )
        if record_hash(record) != record["hash"]:
            return AuditVerification(
                False, count, f"第{seq}条的内容与其哈希不符（记录被改动）", seq
            )
        prev = record["hash"]
        expected_seq += 1
    return AuditVerification(True, count)


def audit_records(wh: Warehouse, limit: int = 50, actor: str | None = None) -> pa.Table:
    ensure_audit_table(wh)
    where, params = ("WHERE actor = ?", [actor]) if actor else ("", [])
    return wh.arrow(
        f"SELECT * FROM {AUDIT} {where} ORDER BY seq DESC LIMIT {int(limit)}",
        params,
        schema=AUDIT_SCHEMA,
    )
