"""The audit log of personal-data reads: append-only and tamper-evident against the database's owner.

Each record carries an HMAC-SHA256 over its fields and the previous record's MAC, under a key kept in a
file outside the database (`Settings.audit_key_file`, created 0600 on first use). After every append the
head (sequence number and MAC) is written, itself signed, to an append-only checkpoint file elsewhere
(`Settings.audit_checkpoint_file`). So someone who can rewrite the database but not read the key cannot
edit a record, re-chain the rest, delete records or cut off the tail without `verify_audit` saying which.

Records written before the key existed (unkeyed SHA-256, `key_id` NULL) stay as they are — the PostgreSQL
trigger forbids rewriting them, and re-keying would launder whatever they hold — and are reported as legacy:
their chain is still checked, and the first checkpoint seals their head, but they prove less.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        ("key_id", pa.string()),  # NULL: a legacy record chained by plain SHA-256
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
    key_id: str | None = None


# -- the key and the checkpoints --------------------------------------------------------------------


@dataclass(frozen=True)
class AuditSeal:
    """Where the chain's key and the head checkpoints live: both outside the warehouse."""

    key_file: Path
    checkpoint_file: Path

    @classmethod
    def from_settings(cls, settings: object | None = None) -> AuditSeal:
        if settings is None:
            from zhixiang.config import load_settings

            settings = load_settings()
        key_file = getattr(settings, "audit_key_file")  # noqa: B009 - Settings fills both defaults
        checkpoint_file = getattr(settings, "audit_checkpoint_file")  # noqa: B009
        return cls(Path(key_file), Path(checkpoint_file))

    def key(self, create: bool = True) -> bytes | None:
        """The HMAC key; created (32 random bytes, mode 0600) on first use when `create`."""
        try:
            return bytes.fromhex(self.key_file.read_text().strip())
        except FileNotFoundError:
            if not create:
                return None
        except ValueError as exc:
            raise AuditKeyError(f"审计密钥文件 {self.key_file} 内容无效（应为十六进制）") from exc
        self.key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            return self.key(create=False)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        return self.key(create=False)

    def write_checkpoint(self, key: bytes, warehouse: str, seq: int, head: str) -> None:
        """Append one signed line (one write, O_APPEND, fsync'd) saying where the head was."""
        at = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
        line = {"warehouse": warehouse, "seq": seq, "head": head, "at": at}
        line["mac"] = _mac(key, [warehouse, seq, head, at])
        self.checkpoint_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.checkpoint_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def checkpoints(self, warehouse: str) -> list[tuple[int, dict | None]]:
        """(line number, checkpoint) of this warehouse's lines; None where a line is not JSON."""
        try:
            text = self.checkpoint_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        found: list[tuple[int, dict | None]] = []
        for number, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                found.append((number, None))
                continue
            if isinstance(line, dict) and line.get("warehouse") == warehouse:
                found.append((number, line))
        return found


class AuditKeyError(RuntimeError):
    """The audit key file exists but cannot be used."""


def key_id(key: bytes) -> str:
    """A public name of the key (which key signed a record), not the key."""
    return hashlib.sha256(b"zhixiang-audit-key-id:" + key).hexdigest()[:16]


def _payload(values: list) -> bytes:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _mac(key: bytes, values: list) -> str:
    return hmac.new(key, _payload(values), hashlib.sha256).hexdigest()


def record_hash(record: dict) -> str:
    """Legacy: SHA-256 over the canonical JSON of the chained fields (the previous hash included)."""
    return hashlib.sha256(_payload([record[k] for k in _CHAINED])).hexdigest()


def record_mac(key: bytes, record: dict) -> str:
    """HMAC-SHA256 over the chained fields, the previous MAC and the key id."""
    return _mac(key, [record[k] for k in _CHAINED] + [record["key_id"]])


# -- the table ---------------------------------------------------------------------------------------


def ensure_audit_table(wh: Warehouse) -> None:
    if wh.has_table(AUDIT):
        if "key_id" not in wh.columns(
            AUDIT
        ):  # a table from before keyed chains: its records become legacy
            wh.execute(f"ALTER TABLE {AUDIT} ADD COLUMN key_id VARCHAR")
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
    seal: AuditSeal | None = None,
) -> AuditRecord:
    """Append one keyed record and checkpoint the new head; concurrent writers are serialised so the
    chain never forks. The checkpoint is written after the commit: a crash in between leaves the
    checkpoint behind the head (harmless), never ahead of it (which would read as truncation)."""
    seal = seal or AuditSeal.from_settings()
    key = seal.key()
    assert key is not None
    kid = key_id(key)
    ensure_audit_table(wh)
    at = at or dt.datetime.now(dt.UTC)
    with wh.transaction():
        wh.lock(AUDIT)
        last = wh.rows(f"SELECT seq, hash, key_id FROM {AUDIT} ORDER BY seq DESC LIMIT 1")
        if last and last[0][2] is None and not seal.checkpoints(wh.identity):
            # The first keyed record: seal the legacy head first, so it cannot be rewritten later.
            seal.write_checkpoint(key, wh.identity, int(last[0][0]), last[0][1])
        seq, prev = (int(last[0][0]) + 1, last[0][1]) if last else (1, GENESIS)
        record: dict[str, Any] = {
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "purpose": purpose,
            "entity": entity,
            "fields": ",".join(fields),
            "rows": rows,
            "detail": detail,
            "prev_hash": prev,
            "key_id": kid,
        }
        record["hash"] = record_mac(key, record)
        wh.append(AUDIT, pa.Table.from_pylist([record], schema=AUDIT_SCHEMA))
    seal.write_checkpoint(key, wh.identity, seq, record["hash"])
    return AuditRecord(**record)


# -- verification ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFinding:
    """One kind of tampering found: `kind` is edited, rechained, deleted, truncated, checkpoint,
    forged_checkpoint, other_key, legacy_after_keyed or no_key; `seq` the first record concerned."""

    kind: str
    seq: int | None
    message: str


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    records: int
    problem: str = ""
    seq: int | None = None
    findings: tuple[AuditFinding, ...] = ()
    legacy: int = 0  # records from before the key (unkeyed SHA-256, weaker evidence)
    checkpoint_seq: int | None = None  # the newest signed checkpoint of this warehouse
    checkpoints: int = 0
    notes: tuple[str, ...] = field(default=())


def verify_audit(wh: Warehouse, seal: AuditSeal | None = None) -> AuditVerification:
    """Recompute the keyed chain, then hold it to the signed checkpoints; report every kind of
    tampering found (the first one in `problem`/`seq`, all of them in `findings`)."""
    seal = seal or AuditSeal.from_settings()
    key = seal.key(create=False)
    kid = key_id(key) if key is not None else None
    records = (
        wh.arrow(f"SELECT * FROM {AUDIT} ORDER BY seq", schema=None).to_pylist()
        if wh.has_table(AUDIT)
        else []
    )
    findings: list[AuditFinding] = []
    notes: list[str] = []
    legacy = 0
    keyed_seen = False
    prev, expected = GENESIS, 1
    bad: list[tuple[int, bool]] = []  # (seq, linked to the previous stored hash)
    by_seq: dict[int, str] = {}
    for record in records:
        record.setdefault("key_id", None)
        seq = int(record["seq"])
        by_seq[seq] = record["hash"]
        if seq != expected:
            gap = f"第{expected}至{seq - 1}条" if seq - 1 > expected else f"第{expected}条"
            findings.append(
                AuditFinding(
                    "deleted",
                    expected,
                    f"序号不连续: 应为第{expected}条，实为第{seq}条（{gap}被删除，或有记录被插入）",
                )
            )
        linked = record["prev_hash"] == prev
        if not linked and seq == expected:
            findings.append(
                AuditFinding("edited", seq, f"第{seq}条的前序哈希与第{seq - 1}条不符（链被改动）")
            )
        if record["key_id"] is None:
            legacy += 1
            if keyed_seen:
                findings.append(
                    AuditFinding(
                        "legacy_after_keyed",
                        seq,
                        f"第{seq}条是无密钥的旧格式记录，却排在密钥记录之后（伪造）",
                    )
                )
            elif record_hash(record) != record["hash"]:
                bad.append((seq, linked))
        else:
            keyed_seen = True
            if key is None:
                pass  # reported once below
            elif record["key_id"] != kid:
                findings.append(
                    AuditFinding(
                        "other_key",
                        seq,
                        f"第{seq}条由另一密钥（{record['key_id']}）签名，当前密钥为 {kid}",
                    )
                )
            elif not hmac.compare_digest(record_mac(key, record), record["hash"]):
                bad.append((seq, linked))
        prev, expected = record["hash"], seq + 1
    if keyed_seen and key is None:
        findings.append(
            AuditFinding("no_key", None, f"审计密钥文件 {seal.key_file} 不存在，无法校验密钥签名")
        )
    findings = _collapse(findings)
    findings.extend(_classify(bad))
    checkpoint_seq, count = _check_points(wh, seal, key, by_seq, findings)
    if legacy:
        notes.append(
            f"前 {legacy} 条为启用密钥前的旧格式记录（无密钥 SHA-256），已校验其链，"
            "其头部由第一个检查点封存；它们不能证明未被数据库所有者整体重写"
        )
    if not count and records:
        notes.append("没有本仓库的检查点：无法发现尾部截断")
    findings.sort(key=lambda f: (f.seq is None, f.seq or 0))
    first = findings[0] if findings else None
    return AuditVerification(
        ok=not findings,
        records=len(records),
        problem=first.message if first else "",
        seq=first.seq if first else None,
        findings=tuple(findings),
        legacy=legacy,
        checkpoint_seq=checkpoint_seq,
        checkpoints=count,
        notes=tuple(notes),
    )


def _collapse(findings: list[AuditFinding]) -> list[AuditFinding]:
    """One finding per kind of forged legacy record (the first, with how many there are)."""
    forged = [f for f in findings if f.kind == "legacy_after_keyed"]
    if len(forged) < 2:
        return findings
    first = forged[0]
    kept = [f for f in findings if f.kind != "legacy_after_keyed"]
    message = f"{first.message}；其后共{len(forged)}条同样（链被改写为无密钥格式）"
    return [*kept, AuditFinding(first.kind, first.seq, message)]


def _classify(bad: list[tuple[int, bool]]) -> list[AuditFinding]:
    """Records whose MAC fails: a run of them, each linked to the one before and reaching the end
    of the bad set, is a re-chaining without the key; the rest are edited records."""
    found: list[AuditFinding] = []
    i = 0
    while i < len(bad):
        j = i
        while j + 1 < len(bad) and bad[j + 1][0] == bad[j][0] + 1 and bad[j + 1][1]:
            j += 1
        start, end = bad[i][0], bad[j][0]
        if j > i:
            found.append(
                AuditFinding(
                    "rechained",
                    start,
                    f"第{start}至{end}条的内容与其哈希不符，且彼此链接一致（第{start}条被改动后"
                    "链被不持有密钥者重新计算）",
                )
            )
        else:
            found.append(
                AuditFinding("edited", start, f"第{start}条的内容与其哈希不符（记录被改动）")
            )
        i = j + 1
    return found


def _check_points(
    wh: Warehouse,
    seal: AuditSeal,
    key: bytes | None,
    by_seq: dict[int, str],
    findings: list[AuditFinding],
) -> tuple[int | None, int]:
    last = max(by_seq, default=0)
    newest: int | None = None
    count = 0
    mismatched: list[tuple[int, str]] = []
    for number, line in seal.checkpoints(wh.identity):
        count += 1
        try:
            seq, head, at = int(line["seq"]), str(line["head"]), str(line["at"])  # type: ignore[index]
            mac = str(line["mac"])  # type: ignore[index]
        except (TypeError, KeyError, ValueError):
            findings.append(
                AuditFinding("forged_checkpoint", None, f"检查点文件第{number}行无法解析")
            )
            continue
        if key is not None and not hmac.compare_digest(
            _mac(key, [wh.identity, seq, head, at]), mac
        ):
            findings.append(
                AuditFinding(
                    "forged_checkpoint",
                    seq,
                    f"检查点文件第{number}行（第{seq}条）的签名无效（伪造）",
                )
            )
            continue
        newest = seq if newest is None else max(newest, seq)
        if seq in by_seq and by_seq[seq] != head:
            mismatched.append((seq, at))
    if mismatched:
        seq, at = min(mismatched)
        others = len({s for s, _ in mismatched}) - 1
        findings.append(
            AuditFinding(
                "checkpoint",
                seq,
                f"第{seq}条与检查点（{at}）记下的链头不符（该条或之前的记录被重写）"
                + (f"；另有{others}个检查点也不符" if others else ""),
            )
        )
    if newest is not None and newest > last:
        findings.append(
            AuditFinding(
                "truncated",
                last + 1,
                f"尾部被截断: 检查点记到第{newest}条，日志只到第{last}条（"
                + (f"第{last + 1}至{newest}条" if newest > last + 1 else f"第{newest}条")
                + "缺失）",
            )
        )
    return newest, count


def audit_records(wh: Warehouse, limit: int = 50, actor: str | None = None) -> pa.Table:
    ensure_audit_table(wh)
    where, params = ("WHERE actor = ?", [actor]) if actor else ("", [])
    return wh.arrow(
        f"SELECT * FROM {AUDIT} {where} ORDER BY seq DESC LIMIT {int(limit)}",
        params,
        schema=AUDIT_SCHEMA,
    )
