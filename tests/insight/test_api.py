"""The 主动发现 routes: who may call them, and that they answer from the ticket store."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from zhixiang.access import SYSTEM, Principal, PrincipalKind, Role, operator
from zhixiang.api import create_app
from zhixiang.insight import Surge, open_alert_store
from zhixiang.tickets import TicketDraft, open_store


@pytest.fixture
def api(home: Path) -> tuple[TestClient, dict[str, str]]:
    app = create_app()
    root = operator("root")
    agent, _ = app.state.access.create_key(root, ["agent"], label="坐席", department="center")
    handler, _ = app.state.access.create_key(
        root, ["handler"], label="建设局", department="city-housing"
    )
    other, _ = app.state.access.create_key(
        root, ["handler"], label="人社局", department="city-hrss"
    )
    tickets = open_store(with_classifier=False)
    intake = SYSTEM
    for i in range(3):
        result = tickets.intake(
            intake,
            TicketDraft(
                title=f"丽发新城附近搅拌站噪音扰民{i}",
                body="丽发新城小区旁搅拌站夜间施工，噪音很大",
                category="环境保护",
            ),
        )
        assert result.ticket.department == "city-environment"
    keys = {"agent": agent, "handler": handler, "other": other}
    return TestClient(app), keys


def test_routes_refuse_callers_without_the_permission(api) -> None:  # type: ignore[no-untyped-def]
    http, keys = api
    assert http.get("/insight/topics").status_code == 401
    assert (
        http.post("/insight/alerts/scan", headers={"X-API-Key": keys["handler"]}).status_code == 403
    )
    assert (
        http.post("/insight/alerts/1/task", headers={"X-API-Key": keys["handler"]}).status_code
        == 403
    )


def test_topics_come_from_the_ticket_store(api) -> None:  # type: ignore[no-untyped-def]
    http, keys = api
    topics = http.get("/insight/topics", headers={"X-API-Key": keys["agent"]})
    assert topics.status_code == 200, topics.text
    [topic] = topics.json()
    assert topic["size"] == 3 and "丽发新城" in topic["place"]
    trends = http.get(
        "/insight/topics/trends?weeks=4", headers={"X-API-Key": keys["handler"]}
    ).json()
    assert len(trends[0]["heat"]) == 4 and trends[0]["messages"][-1] == 3


def test_an_alert_becomes_a_proactive_task_for_the_routed_department(api) -> None:  # type: ignore[no-untyped-def]
    http, keys = api
    alerts = open_alert_store()
    [alert], _ = alerts.record(
        [
            Surge(
                "area_category",
                "A3区|城乡建设",
                date(2019, 3, 1),
                date(2019, 3, 1),
                9,
                2.0,
                1e-4,
                ["1"],
            )
        ]
    )
    done = http.post(f"/insight/alerts/{alert.id}/task", headers={"X-API-Key": keys["agent"]})
    assert done.status_code == 200, done.text
    assert done.json()["department"] == "city-housing" and done.json()["ticket_id"]
    again = http.post(f"/insight/alerts/{alert.id}/task", headers={"X-API-Key": keys["agent"]})
    assert again.status_code == 409
    assert (
        http.post("/insight/alerts/999/task", headers={"X-API-Key": keys["agent"]}).status_code
        == 404
    )
    seen_by_housing = http.get("/insight/alerts", headers={"X-API-Key": keys["handler"]}).json()
    seen_by_hrss = http.get("/insight/alerts", headers={"X-API-Key": keys["other"]}).json()
    assert [a["id"] for a in seen_by_housing] == [alert.id] and seen_by_hrss == []


def test_a_draft_reply_is_scored_before_it_is_sent(api) -> None:  # type: ignore[no-untyped-def]
    http, keys = api
    draft = {
        "title": "A3区路灯不亮",
        "body": "A3区某路的路灯坏了一个月",
        "reply": "已转交相关部门处理。",
    }
    scored = http.post("/insight/replies/score", json=draft, headers={"X-API-Key": keys["handler"]})
    assert scored.status_code == 200 and scored.json()["weak"] is True
    bad = http.post(
        "/insight/replies/score",
        json={"title": "", "reply": ""},
        headers={"X-API-Key": keys["handler"]},
    )
    assert bad.status_code == 422


def test_every_reply_in_the_store_is_scored_when_written(home: Path) -> None:
    from zhixiang.insight import ReplyScorer
    from zhixiang.tickets import Command

    tickets = open_store(with_classifier=False, reply_scorer=ReplyScorer())
    intake = SYSTEM
    ticket = tickets.intake(
        intake,
        TicketDraft(
            title="A3区路灯不亮", body="A3区某路路灯坏了一个月，请尽快修复", category="城乡建设"
        ),
    ).ticket
    housing = Principal(
        PrincipalKind.KEY, "h", roles=frozenset({Role.HANDLER}), department=ticket.department
    )
    for action in ("sign", "start"):
        tickets.act(housing, ticket.id, Command(action=action))
    done = tickets.act(housing, ticket.id, Command(action="resolve", reply="已转交相关部门处理。"))
    assert done.reply_score is not None and done.reply_score < 0.5
    assert any("仅告知已转办" in p for p in done.reply_problems)
