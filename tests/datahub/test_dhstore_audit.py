"""The keyed audit chain and its checkpoints: each kind of tampering by someone who owns the database
but not the key is found and named (issue 7, finding 4). The old unkeyed chain passed the re-chaining
and truncation cases below."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from zhixiang.datahub import Warehouse, append_audit, verify_audit
from zhixiang.datahub._audit import AUDIT, GENESIS, AuditSeal

_LEGACY_FIELDS = (
    "seq",
    "at",
    "actor",
    "purpose",
    "entity",
    "fields",
    "rows",
    "detail",
    "prev_hash",
)


@pytest.fixture
def seal(tmp_path: Path) -> AuditSeal:
    return AuditSeal(tmp_path / "keys" / "audit.key", tmp_path / "elsewhere" / "checkpoints.jsonl")


def _append(wh: Warehouse, seal: AuditSeal, n: int) -> None:
    for i in range(n):
        append_audit(
            wh,
            actor="人社局",
            purpose="核定补贴",
            entity="person",
            fields=["name"],
            rows=i,
            seal=seal,
        )


def _tamper(wh: Warehouse, *statements: str) -> None:
    """The database owner at work: on PostgreSQL a superuser switches the append-only trigger off."""
    if wh.dialect == "postgres":
        wh.execute(f"ALTER TABLE {AUDIT} DISABLE TRIGGER USER")
    for sql in statements:
        wh.execute(sql)


def _sha_chain(records: list[dict], prev: str = GENESIS) -> None:
    """What a forger without the key can do: recompute every hash the old (unkeyed) way."""
    for r in records:
        r["prev_hash"] = prev
        payload = json.dumps(
            [r[k] for k in _LEGACY_FIELDS], ensure_ascii=False, separators=(",", ":")
        )
        r["hash"] = prev = hashlib.sha256(payload.encode()).hexdigest()


def _rewrite(wh: Warehouse, records: list[dict]) -> None:
    _tamper(wh, f"DELETE FROM {AUDIT}")
    wh.append(AUDIT, pa.Table.from_pylist(records))


def _records(wh: Warehouse) -> list[dict]:
    return wh.arrow(f"SELECT * FROM {AUDIT} ORDER BY seq").to_pylist()


def _kinds(result) -> dict[str, int | None]:  # type: ignore[no-untyped-def]
    return {f.kind: f.seq for f in result.findings}


def test_key_is_created_0600_outside_the_database_and_a_clean_log_verifies(
    wh: Warehouse, seal: AuditSeal
) -> None:
    _append(wh, seal, 4)
    assert stat.S_IMODE(seal.key_file.stat().st_mode) == 0o600
    result = verify_audit(wh, seal)
    assert result.ok and result.records == 4 and result.legacy == 0
    assert result.checkpoint_seq == 4 and result.checkpoints == 4
    key = seal.key_file.read_text().strip()
    assert all(key not in str(v) for r in _records(wh) for v in r.values())


def test_an_edited_record_is_named(wh: Warehouse, seal: AuditSeal) -> None:
    _append(wh, seal, 5)
    _tamper(wh, f"UPDATE {AUDIT} SET rows = 999 WHERE seq = 3")
    result = verify_audit(wh, seal)
    assert not result.ok and result.seq == 3 and "第3条的内容与其哈希不符" in result.problem
    assert _kinds(result) == {"edited": 3}


def test_rechaining_without_the_key_is_found(wh: Warehouse, seal: AuditSeal) -> None:
    _append(wh, seal, 5)
    records = _records(wh)
    records[1]["actor"] = "别人"  # seq 2 rewritten, then every later hash recomputed
    _sha_chain(records[1:], prev=records[0]["hash"])
    _rewrite(wh, records)
    result = verify_audit(wh, seal)
    assert not result.ok and result.seq == 2
    kinds = _kinds(result)
    assert "rechained" in kinds and kinds["checkpoint"] is not None
    assert any("不持有密钥者重新计算" in f.message for f in result.findings)


def test_rechaining_as_legacy_records_is_found(wh: Warehouse, seal: AuditSeal) -> None:
    _append(wh, seal, 4)
    records = _records(wh)
    for r in records[2:]:
        r["key_id"] = None  # pretend seq 3-4 predate the key
    records[2]["rows"] = 42
    _sha_chain(records)
    _rewrite(wh, records)
    result = verify_audit(wh, seal)
    assert not result.ok and "legacy_after_keyed" in _kinds(result)


def test_a_truncated_tail_is_found_by_the_checkpoint(wh: Warehouse, seal: AuditSeal) -> None:
    _append(wh, seal, 6)
    _tamper(wh, f"DELETE FROM {AUDIT} WHERE seq > 4")
    result = verify_audit(wh, seal)
    assert not result.ok and _kinds(result) == {"truncated": 5}
    assert "检查点记到第6条，日志只到第4条" in result.problem
    _tamper(wh, f"DELETE FROM {AUDIT}")
    emptied = verify_audit(wh, seal)
    assert not emptied.ok and _kinds(emptied) == {"truncated": 1}


def test_truncating_and_appending_again_is_found(wh: Warehouse, seal: AuditSeal) -> None:
    _append(wh, seal, 5)
    _tamper(wh, f"DELETE FROM {AUDIT} WHERE seq > 3")
    _append(wh, seal, 2)  # seq 4 and 5 again, with other content
    result = verify_audit(wh, seal)
    assert not result.ok and _kinds(result) == {"checkpoint": 4}


def test_deleted_middle_records_are_named(wh: Warehouse, seal: AuditSeal) -> None:
    _append(wh, seal, 6)
    _tamper(wh, f"DELETE FROM {AUDIT} WHERE seq IN (3, 4)")
    result = verify_audit(wh, seal)
    assert not result.ok and result.seq == 3 and _kinds(result) == {"deleted": 3}
    assert "第3至4条被删除" in result.problem


def test_deleting_and_renumbering_is_found(wh: Warehouse, seal: AuditSeal) -> None:
    _append(wh, seal, 5)
    records = [r for r in _records(wh) if r["seq"] != 2]
    for i, r in enumerate(records, 1):
        r["seq"] = i
    _sha_chain(records)
    _rewrite(wh, records)
    result = verify_audit(wh, seal)
    assert not result.ok and {"rechained", "truncated"} <= set(_kinds(result))


def test_a_forged_checkpoint_line_is_found(wh: Warehouse, seal: AuditSeal) -> None:
    _append(wh, seal, 2)
    with seal.checkpoint_file.open("a") as out:
        line = {
            "warehouse": wh.identity,
            "seq": 9,
            "head": "0" * 64,
            "at": "2026-01-01",
            "mac": "00",
        }
        out.write(json.dumps(line) + "\n")
    result = verify_audit(wh, seal)
    assert not result.ok and _kinds(result) == {"forged_checkpoint": 9}


def test_legacy_records_stay_readable_are_reported_and_sealed(
    wh: Warehouse, seal: AuditSeal
) -> None:
    """A table from before the key: its records verify as legacy, new records are keyed, and the
    first checkpoint seals the legacy head so rewriting it later is found."""
    columns = ", ".join(
        f'"{c}" VARCHAR' if c not in ("seq", "rows") else f'"{c}" BIGINT'
        for c in (*_LEGACY_FIELDS, "hash")
    )
    wh.execute(f"CREATE TABLE {AUDIT} ({columns})")
    old = [
        {
            "seq": i,
            "at": f"2026-0{i}-01T00:00:00",
            "actor": "税务局",
            "purpose": "p",
            "entity": "person",
            "fields": "name",
            "rows": i,
            "detail": "",
        }
        for i in (1, 2, 3)
    ]
    _sha_chain(old)
    wh.append(AUDIT, pa.Table.from_pylist(old))
    before = verify_audit(wh, seal)
    assert before.ok and before.legacy == 3 and any("旧格式" in n for n in before.notes)
    _append(wh, seal, 2)
    after = verify_audit(wh, seal)
    assert after.ok and after.records == 5 and after.legacy == 3 and after.checkpoint_seq == 5
    assert [r["key_id"] is None for r in _records(wh)] == [True] * 3 + [False] * 2
    records = _records(wh)
    records[1]["rows"] = 0
    legacy_part = records[:3]
    _sha_chain(legacy_part)  # a consistent rewrite of the unkeyed part …
    records[3]["prev_hash"] = legacy_part[2]["hash"]
    _rewrite(wh, records)
    result = verify_audit(wh, seal)
    assert not result.ok and "checkpoint" in _kinds(result)  # … is caught by the sealed head


def test_cli_verify_names_the_truncation(home: Path) -> None:
    from zhixiang.cli import app
    from zhixiang.config import load_settings
    from zhixiang.datahub import open_warehouse

    with open_warehouse(load_settings().warehouse_url) as wh:
        for i in range(3):
            append_audit(wh, actor="人社局", purpose="p", entity="person", fields=["name"], rows=i)
        wh.execute(f"DELETE FROM {AUDIT} WHERE seq = 3")
    assert (home / "secrets" / "audit-checkpoints.jsonl").exists()
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 1 and "尾部被截断" in result.output and "truncated" in result.output
