"""`zhixiang tickets …` against a real store under a temporary home."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from zhixiang.classify import load_model
from zhixiang.cli import app
from zhixiang.tickets import Command, TicketDraft, open_store

runner = CliRunner()


def test_keys_metrics_and_rules_from_the_command_line(home: Path) -> None:
    assert runner.invoke(app, ["tickets", "migrate"]).exit_code == 0
    created = runner.invoke(app, ["tickets", "keys", "create", "--department", "city-health"])
    assert created.exit_code == 0 and "zx_" in created.output
    refused = runner.invoke(app, ["tickets", "keys", "create", "--department", "nowhere"])
    assert refused.exit_code == 2 and "未知的部门" in refused.output
    assert runner.invoke(app, ["tickets", "keys", "create"]).exit_code == 2
    listed = runner.invoke(app, ["tickets", "keys", "list"])
    assert "city-health" in listed.output and "zx_" not in listed.output
    metrics = runner.invoke(app, ["tickets", "metrics", "--json"])
    assert metrics.exit_code == 0
    assert json.loads(metrics.output)["total"]["satisfaction_rate"]["denominator"] == 0
    assert "市人力资源和社会保障局" in runner.invoke(app, ["tickets", "rules"]).output
    assert runner.invoke(app, ["tickets", "escalate"]).exit_code == 0


def test_retrain_learns_from_handled_tickets(home: Path) -> None:
    store = open_store(with_classifier=False)
    center = store.authenticate(store.create_key("intake")[0])
    examples = {
        "劳动和社会保障": ("拖欠工资", "公司拖欠工资{}个月，社保也没交", "city-hrss"),
        "卫生计生": ("医院排队", "社区医院挂号排队{}小时，医生太少", "city-health"),
        "教育文体": ("学校收费", "学校额外收取补课费{}百元", "city-education"),
    }
    for category, (title, body, department) in examples.items():
        dept = store.authenticate(store.create_key("department", department)[0])
        for i in range(2, 8):
            ticket = store.intake(
                center, TicketDraft(title=f"{title}{i}", body=body.format(i), category=category)
            ).ticket
            store.act(dept, ticket.id, Command(action="sign"))
            store.act(dept, ticket.id, Command(action="resolve", reply="已处理"))
    output = home / "model.joblib"
    too_few = runner.invoke(app, ["tickets", "retrain", "--output", str(output)])
    assert too_few.exit_code == 2 and "不足以训练" in too_few.output
    done = runner.invoke(app, ["tickets", "retrain", "--output", str(output), "--minimum", "18"])
    assert done.exit_code == 0, done.output
    [prediction] = load_model(output).predict(["拖欠工资"], ["老板拖欠工资半年"])
    assert prediction.category == "劳动和社会保障"
    store.close()
