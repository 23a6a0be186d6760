"""The intake channels as modules: the 12345 work-order import (real export and bad rows) and the
web form; Open311 over HTTP is tested in tests/api/test_open311.py."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from tk_helpers import AGENT, APP, SIMING

from zhixiang.access import DEFAULT_DEPARTMENTS, parse_departments
from zhixiang.config import load_settings
from zhixiang.tickets import Forbidden, InvalidInput, SearchFilters, TicketStore, WorkCalendar
from zhixiang.tickets.channels import hotline12345, import_work_orders, submit_web_form

REAL = load_settings().shared_data_dir / "beijing12345" / "work_orders.csv"
COLUMNS = ["工单编号", "工单类型", "问题分类", "一级分类", "标题", "主要内容", "问题点位", "被反映区",
           "被反映街乡镇", "承办单位", "处理结果", "来电时间", "派单时间", "处理时限", "办结时间"]  # fmt: skip


def _beijing_directory(agencies: set[str]):
    """The packaged directory plus the Beijing hotline's own 承办单位 it lacks, as an administrator
    adds them (names it has already, like 市人力资源和社会保障局, resolve through its aliases)."""
    packaged = DEFAULT_DEPARTMENTS.read_text("utf-8")
    known = parse_departments(packaged)
    extra = "".join(
        f"  - {{code: bj-{i}, name: '{name}', kind: branch, parent: center}}\n"
        for i, name in enumerate(sorted(a for a in agencies if a not in known))
    )
    return parse_departments(packaged + extra, "test")


@pytest.fixture
def beijing(tickets_url: str) -> Iterator[TicketStore]:
    agencies: set[str] = set()
    if REAL.exists():
        with REAL.open(encoding="utf-8-sig") as f:
            agencies = {r["承办单位"] for r in csv.DictReader(f) if r["承办单位"]}
    store = TicketStore(
        tickets_url, directory=_beijing_directory(agencies), calendar=WorkCalendar.default()
    )
    store.migrate()
    yield store
    store.close()


@pytest.mark.slow
def test_the_real_beijing_export_imports_once(beijing: TicketStore) -> None:
    if not REAL.exists():
        pytest.skip(f"real 12345 work orders not found at {REAL} (see /work/shared/data/README.md)")
    first = import_work_orders(beijing, AGENT, REAL)
    assert first.rows == 374 and first.quarantined == [] and len(first.imported) == 374
    again = import_work_orders(beijing, AGENT, REAL)
    assert again.imported == [] and len(again.skipped) == 374
    every = beijing.search(AGENT, SearchFilters(limit=1000))
    assert len(every) == 374
    assert all(t.status == "resolved" and t.reply and t.resolved_at for t in every)
    direct = [t for t in every if t.department is None]  # 非系统派单: closed by the hotline itself
    assert len(direct) == 8 and all(t.dispatched_at is None for t in direct)
    one = beijing.get(AGENT, next(t.id for t in every if t.department))
    assert one.history[0].label == "导入" and "工单编号" not in (one.history[0].note or "x")
    assert one.due_at is not None and one.channel == "hotline"


def _write(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows([{c: r.get(c, "") for c in COLUMNS} for r in rows])
    return path


GOOD = {
    "工单编号": "热线-241001-000001",
    "工单类型": "诉求",
    "问题分类": "城乡建设->市政设施->路灯",
    "一级分类": "城乡建设",
    "标题": "莲花五村路灯不亮",
    "主要内容": "市民反映，莲花五村12号楼下的路灯坏了半个月。",
    "被反映区": "思明区",
    "承办单位": "思明区建设与交通局",
    "处理结果": "已更换灯泡。",
    "来电时间": "2026/9/18 16:54",
    "派单时间": "2026/9/18 16:59",
    "处理时限": "7.0",
    "办结时间": "2026/9/20 10:00",
}


def test_bad_rows_are_quarantined_with_their_reason_and_the_rest_imported(
    store: TicketStore, tmp_path: Path
) -> None:
    rows = [
        GOOD,
        {**GOOD, "工单编号": "热线-2", "办结时间": "", "处理结果": ""},
        {**GOOD, "工单编号": ""},
        {**GOOD, "工单编号": "热线-3", "来电时间": "昨天下午"},
        {**GOOD, "工单编号": "热线-4", "办结时间": "2026/9/17 10:00"},
        {**GOOD, "工单编号": "热线-5", "承办单位": "火星分中心"},
        {**GOOD, "工单编号": "热线-6", "处理时限": "2.5"},
        {**GOOD, "工单编号": "热线-7", "主要内容": " "},
        {**GOOD},  # the first order again
        {**GOOD, "工单编号": "热线-8", "承办单位": "12345热线派单中心"},
    ]
    path = _write(tmp_path / "orders.csv", rows, "gbk")
    summary = import_work_orders(store, AGENT, path)
    assert summary.encoding == "gb18030" and summary.rows == 10
    assert len(summary.imported) == 2
    reasons = {q.record: q.reason for q in summary.quarantined}
    assert set(reasons) == {3, 4, 5, 6, 7, 8, 9, 10}
    assert "派单中心不是承办部门" in reasons[10]
    assert "缺少工单编号" in reasons[3] and "来电时间" in reasons[4]
    assert "办结时间早于" in reasons[5] and "火星分中心" in reasons[6]
    assert "整天数" in reasons[7] and "主要内容为空" in reasons[8] and "重复" in reasons[9]
    first, second = (store.get(AGENT, i) for i in summary.imported)
    assert (first.status, first.department, first.reply) == (
        "resolved",
        "siming-housing",
        "已更换灯泡。",
    )
    assert second.status == "signed" and second.due_at is not None
    out = tmp_path / "q.csv"
    hotline12345.write_quarantine(summary, out)
    with out.open(encoding="utf-8-sig") as f:
        written = list(csv.DictReader(f))
    assert [r["工单编号"] for r in written][1:3] == ["热线-3", "热线-4"]
    assert written[3]["原因"] == reasons[6]
    again = import_work_orders(store, AGENT, path)
    assert again.imported == [] and sorted(again.skipped) == sorted(
        ["热线-241001-000001", "热线-2"]
    )


def test_an_import_needs_the_intake_permission_and_the_export_columns(
    store: TicketStore, tmp_path: Path
) -> None:
    path = _write(tmp_path / "orders.csv", [GOOD])
    with pytest.raises(Forbidden):
        import_work_orders(store, SIMING, path)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("编号,内容\n1,路灯\n", "utf-8")
    with pytest.raises(InvalidInput, match="缺少 12345 导出文件的列"):
        import_work_orders(store, AGENT, wrong)
    assert store.search(AGENT, SearchFilters()) == []


def test_the_web_form_maps_onto_a_ticket_and_a_resent_form_is_one_ticket(
    store: TicketStore,
) -> None:
    form = {
        "title": "",
        "content": "莲花五村12号楼下路灯坏了半个月，晚上很黑。",
        "name": "张三",
        "phone": "13812345678",
        "region_code": "350203008003",
        "category": "urban",
        "confidential": "on",
        "form_token": "f-1",
        "csrf_token": "ignored",
    }
    first = submit_web_form(store, APP, form)
    again = submit_web_form(store, APP, form)
    assert first.created and not again.created and again.ticket.id == first.ticket.id
    ticket = store.get(AGENT, first.ticket.id)
    assert (ticket.channel, ticket.category, ticket.confidential) == ("web", "城乡建设", True)
    assert ticket.title == form["content"][:30] and ticket.reporter_contact == "138****5678"
    with pytest.raises(InvalidInput) as refused:
        submit_web_form(store, APP, {**form, "phone": "call me", "form_token": "f-2"})
    assert refused.value.field == "phone"
    with pytest.raises(InvalidInput) as refused:
        submit_web_form(store, APP, {**form, "region_code": "350203999", "form_token": "f-3"})
    assert refused.value.field == "region_code"
