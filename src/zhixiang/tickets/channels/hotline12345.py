"""12345 work orders from another hotline system, in the Beijing 12345 export layout.

The export has one row per work order: 工单编号, 工单类型, 问题分类 (three levels joined by `->`),
一级分类, 标题, 主要内容, 问题点位, 被反映区, 被反映街乡镇, 承办单位, 处理结果, 来电时间, 派单时间,
处理时限 (days), 办结时间 … Times are Beijing time. Each good row becomes a ticket in the state its
times say (an order closed without a system dispatch, 非系统派单, is resolved with no department);
a bad row is quarantined with the reason, and nothing of it is stored. Re-running the
same file imports only what was not imported before (keyed by 工单编号), so after fixing the
quarantined rows (or adding a department's name to the directory) the file can simply be run again.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from zhixiang.access import Principal
from zhixiang.errors import InvalidInput, ZhixiangError
from zhixiang.tickets._deadlines import CST
from zhixiang.tickets._importing import ImportedTicket
from zhixiang.tickets._model import TicketDraft
from zhixiang.tickets._store import TicketStore

SOURCE = "12345"
REQUIRED = ("工单编号", "标题", "主要内容", "来电时间", "派单时间", "处理时限", "承办单位")
DETAILS = (
    "工单类型",
    "问题分类",
    "工单来源",
    "工单状态",
    "承办单位",
    "企业名称",
    "被反映区",
    "被反映街乡镇",
)
_UNKNOWN = {"", "不详", "无", "-", "—"}
_TIME_FORMATS = ("%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class QuarantinedRow:
    record: int  # 1 = the first row after the header
    external_id: str
    reason: str
    row: dict[str, str]


@dataclass
class ImportSummary:
    """What an import did: tickets written, orders skipped as imported before, rows quarantined."""

    rows: int = 0
    imported: list[int] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    quarantined: list[QuarantinedRow] = field(default_factory=list)
    encoding: str = "utf-8"


def _text(path: Path) -> tuple[str, str]:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), encoding.removesuffix("-sig")
        except UnicodeDecodeError:
            continue
    raise InvalidInput(f"{path} 既不是 UTF-8 也不是 GBK/GB18030 编码的文本", "file")


def _time(row: dict[str, str], column: str) -> datetime | None:
    value = (row.get(column) or "").strip()
    if not value:
        return None
    for fmt in _TIME_FORMATS:
        try:
            local = datetime.strptime(value, fmt).replace(tzinfo=CST)
        except ValueError:
            continue
        return local.astimezone(UTC).replace(tzinfo=None)
    raise ValueError(f"{column} 不是时间（应如 2024/9/18 16:54）: {value!r}")


def _days(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        days = float(value)
    except ValueError:
        raise ValueError(f"处理时限应为天数: {value!r}") from None
    if days != int(days) or not 1 <= days <= 366:
        raise ValueError(f"处理时限应为 1–366 的整天数: {value!r}")
    return int(days)


def _record(store: TicketStore, row: dict[str, str]) -> ImportedTicket:
    """One row as an imported ticket, or ValueError/ZhixiangError saying what is wrong with it."""
    external_id = row["工单编号"].strip()
    if not external_id:
        raise ValueError("缺少工单编号")
    body = row["主要内容"].strip()
    if not body:
        raise ValueError("主要内容为空")
    title = row["标题"].strip() or body[:30]
    received = _time(row, "来电时间") or _time(row, "创建时间")
    if received is None:
        raise ValueError("缺少来电时间")
    dispatched, resolved = _time(row, "派单时间"), _time(row, "办结时间")
    if dispatched is not None and dispatched < received:
        raise ValueError("派单时间早于来电时间")
    if resolved is not None and resolved < (dispatched or received):
        raise ValueError("办结时间早于派单时间" if dispatched else "办结时间早于来电时间")
    agency = row["承办单位"].strip()
    department = None
    if agency:
        found = store.directory.get(agency)
        if found is None:
            raise ValueError(
                f"承办单位“{agency}”不在部门目录中（可在部门目录中把它加为某部门的别名）"
            )
        department = found.code
    elif dispatched is not None:
        raise ValueError("有派单时间但没有承办单位")
    reply = row.get("处理结果", "").strip() or None
    if resolved is not None and not reply:
        raise ValueError("有办结时间但没有处理结果")
    place = [row.get(c, "").strip() for c in ("被反映区", "被反映街乡镇", "问题点位")]
    address = " ".join(p for p in dict.fromkeys(place) if p not in _UNKNOWN) or None
    category = row.get("一级分类", "").strip()
    try:
        draft = TicketDraft(
            title=title[: store.rules.text_limits.title],
            body=body,
            channel="hotline",
            address=address[:200] if address else None,
            category=category if category in store.rules.category_names else None,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    return ImportedTicket(
        external_id=external_id,
        draft=draft,
        received_at=received,
        dispatched_at=dispatched,
        working_days=_days(row.get("处理时限", "")),
        department=department,
        resolved_at=resolved,
        reply=reply,
        details={c: row.get(c, "").strip() for c in DETAILS if row.get(c, "").strip()},
    )


def import_work_orders(store: TicketStore, caller: Principal, path: Path) -> ImportSummary:
    """Import a 12345 export file; the good rows in one transaction, the bad ones quarantined."""
    caller.require("tickets.intake")
    text, encoding = _text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(f"{path} 缺少 12345 导出文件的列: {'、'.join(missing)}", "file")
    summary = ImportSummary(encoding=encoding)
    records: list[ImportedTicket] = []
    seen: set[str] = set()
    for number, row in enumerate(reader, start=1):
        summary.rows += 1
        row = {k: v or "" for k, v in row.items() if k is not None}
        external_id = row.get("工单编号", "").strip()
        try:
            if external_id in seen:
                raise ValueError("工单编号在本文件中重复")
            record = _record(store, row)
            store.check_draft(record.draft)
            if record.department is not None:
                store.check_department(record.department, "承办单位")
        except (ValueError, ZhixiangError) as exc:
            summary.quarantined.append(QuarantinedRow(number, external_id, str(exc), row))
            continue
        seen.add(external_id)
        records.append(record)
    report = store.import_tickets(caller, SOURCE, records)
    summary.imported, summary.skipped = report.imported, report.skipped
    return summary


def write_quarantine(summary: ImportSummary, path: Path) -> None:
    """The quarantined rows as they were, with 记录号 and 原因 in front, for fixing and re-running."""
    if not summary.quarantined:
        return
    columns = list(summary.quarantined[0].row)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["记录号", "原因", *columns])
        for q in summary.quarantined:
            writer.writerow([q.record, q.reason, *(q.row.get(c, "") for c in columns)])
