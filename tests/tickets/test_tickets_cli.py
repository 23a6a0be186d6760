"""`zhixiang tickets …` against a real store under a temporary home, as the server's operator."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tk_helpers import AGENT, person
from typer.testing import CliRunner

from zhixiang.access import Role
from zhixiang.classify import load_model
from zhixiang.cli import app
from zhixiang.tickets import Command, TicketDraft, open_store

runner = CliRunner()


def test_list_show_act_metrics_rules_and_calendar_from_the_command_line(home: Path) -> None:
    assert runner.invoke(app, ["tickets", "migrate"]).exit_code == 0
    store = open_store(with_classifier=False)
    ticket = store.intake(
        AGENT,
        TicketDraft(title="莲花五村路灯不亮", body="路灯坏了半个月", category="城乡建设",
                    region_code="350203008003", reporter_contact="13812345678"),
    ).ticket  # fmt: skip
    listed = runner.invoke(app, ["tickets", "list", "--department", "siming-housing"])
    assert (
        listed.exit_code == 0 and "莲花五村路灯不亮" in listed.output and "共 1 张" in listed.output
    )
    bad = runner.invoke(app, ["tickets", "list", "--region", "350203999"])
    assert bad.exit_code == 2 and "国家行政区划代码表" in bad.output
    shown = runner.invoke(app, ["tickets", "show", str(ticket.id)])
    assert shown.exit_code == 0 and "办理记录" in shown.output
    assert "13812345678" not in shown.output and "138****5678" in shown.output
    assert runner.invoke(app, ["tickets", "show", "999"]).exit_code == 4
    signed = runner.invoke(app, ["tickets", "act", str(ticket.id), "sign"])
    assert signed.exit_code == 0 and "已签收" in signed.output
    again = runner.invoke(app, ["tickets", "act", str(ticket.id), "sign"])
    assert again.exit_code == 5 and "不能签收" in again.output
    no_reply = runner.invoke(app, ["tickets", "act", str(ticket.id), "resolve"])
    assert no_reply.exit_code == 2 and "答复意见" in no_reply.output
    done = runner.invoke(app, ["tickets", "act", str(ticket.id), "resolve", "--reply", "已修复"])
    assert done.exit_code == 0
    history = json.loads(runner.invoke(app, ["tickets", "show", str(ticket.id), "--json"]).output)
    assert history["history"][-1]["actor"].startswith("operator:")
    metrics = runner.invoke(app, ["tickets", "metrics", "--json"])
    assert metrics.exit_code == 0
    assert json.loads(metrics.output)["total"]["satisfaction_rate"]["denominator"] == 0
    assert "厦门市人力资源和社会保障局" in runner.invoke(app, ["tickets", "rules"]).output
    assert runner.invoke(app, ["tickets", "escalate"]).exit_code == 0
    calendar = runner.invoke(app, ["tickets", "calendar"])
    assert calendar.exit_code == 0 and "已知放假安排的年份: 2004–2026" in calendar.output
    assert runner.invoke(app, ["tickets", "keys", "list"]).exit_code != 0  # moved to access
    store.close()


def test_import_12345_quarantines_bad_rows_and_reruns_cleanly(home: Path) -> None:
    path = home / "orders.csv"
    columns = ["工单编号", "标题", "主要内容", "来电时间", "派单时间", "处理时限", "承办单位", "处理结果", "办结时间"]  # fmt: skip
    rows = [
        ["热线-1", "路灯", "路灯坏了", "2026/9/18 16:54", "2026/9/18 16:59", "7.0", "思明区建设与交通局", "已修", "2026/9/19 9:00"],
        ["热线-2", "路灯", "路灯坏了", "2026/9/18 16:54", "2026/9/18 16:59", "7.0", "火星分中心", "", ""],
    ]  # fmt: skip
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([columns, *rows])
    first = runner.invoke(app, ["tickets", "import-12345", str(path)])
    assert first.exit_code == 3 and "导入 1" in first.output and "隔离 1" in first.output
    assert "火星分中心" in (home / "orders.quarantine.csv").read_text("utf-8-sig")
    again = runner.invoke(app, ["tickets", "import-12345", str(path)])
    assert "导入 0" in again.output and "此前已导入 1" in again.output


def test_retrain_learns_from_handled_tickets(home: Path) -> None:
    store = open_store(with_classifier=False)
    examples = {
        "劳动和社会保障": ("拖欠工资", "公司拖欠工资{}个月，社保也没交", "city-hrss"),
        "卫生计生": ("医院排队", "社区医院挂号排队{}小时，医生太少", "city-health"),
        "教育文体": ("学校收费", "学校额外收取补课费{}百元", "city-education"),
    }
    for category, (title, body, department) in examples.items():
        handler = person("h", Role.HANDLER, department)
        for i in range(2, 8):
            ticket = store.intake(
                AGENT, TicketDraft(title=f"{title}{i}", body=body.format(i), category=category)
            ).ticket
            store.act(handler, ticket.id, Command(action="sign"))
            store.act(handler, ticket.id, Command(action="resolve", reply="已处理"))
    output = home / "model.joblib"
    too_few = runner.invoke(app, ["tickets", "retrain", "--output", str(output)])
    assert too_few.exit_code == 2 and "不足以训练" in too_few.output
    done = runner.invoke(app, ["tickets", "retrain", "--output", str(output), "--minimum", "18"])
    assert done.exit_code == 0, done.output
    [prediction] = load_model(output).predict(["拖欠工资"], ["老板拖欠工资半年"])
    assert prediction.category == "劳动和社会保障"
    store.close()
