"""A whole ticket life over HTTP — Open311 intake to 归档 — on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from zhixiang.access import operator
from zhixiang.api import create_app
from zhixiang.classify import load_model
from zhixiang.tickets import TicketStore, load_rules


@pytest.fixture
def store(tickets_url: str) -> Iterator[TicketStore]:
    """A fresh, migrated store with the shipped classifier, on SQLite and on PostgreSQL."""
    store = TicketStore(tickets_url, classifier=load_model())
    store.migrate()
    yield store
    store.close()


def test_ticket_life_from_open311_intake_to_archive(home: Path, store: TicketStore) -> None:
    app = create_app(ticket_store=store)
    client = TestClient(app)
    root = operator("test")
    intake, _ = app.state.access.create_key(root, ["agent"], label="12345", department="center")
    dept, _ = app.state.access.create_key(root, ["handler"], label="人社", department="city-hrss")
    as_dept = {"X-API-Key": dept}
    as_center = {"X-API-Key": intake}

    created = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": intake,
            "service_code": "12345",  # 综合诉求: the model picks the category
            "description": "我们公司已经拖欠工资三个月了，社保也一直没有交，老板说没钱，请劳动部门帮忙讨薪。",
            "address_string": "湖里区某科技园",
            "phone": "13812345678",
            "attribute[title]": "公司拖欠工资三个月",
            "attribute[region_code]": "350206001003",
            "attribute[priority]": "general",
        },
        headers={"Idempotency-Key": "open311-1"},
    )
    assert created.status_code == 201, created.text
    [receipt] = created.json()
    ticket_id = int(receipt["service_request_id"])
    assert "市人力资源和社会保障局" in receipt["service_notice"]
    token = client.get(f"/open311/v2/tokens/{receipt['token']}.json").json()
    assert token == [{"service_request_id": str(ticket_id), "token": receipt["token"]}]

    def act(headers: dict[str, str], **command: object) -> dict:
        response = client.post(
            f"/requests/tickets/{ticket_id}/actions", json=command, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    ticket = client.get(f"/requests/tickets/{ticket_id}", headers=as_dept).json()
    assert (ticket["status"], ticket["department"]) == ("dispatched", "city-hrss")
    assert ticket["category_source"] == "model"
    assert ticket["confidence"] >= load_rules().auto_dispatch_threshold
    assert ticket["reporter_contact"] == "138****5678"

    act(as_dept, action="sign")
    act(as_dept, action="start")
    due = ticket["due_at"]
    extended = act(as_dept, action="extend", days=3, reason="需劳动仲裁调取工资台账")
    assert extended["due_at"] > due and extended["extensions"] == 1
    act(as_dept, action="resolve", reply="已约谈企业，补发两个月工资。")
    public = client.get(f"/open311/v2/requests/{ticket_id}.json").json()[0]
    assert public["status"] == "closed" and "13812345678" not in str(public)

    act(
        as_center,
        action="follow_up",
        reached=True,
        responded=True,
        solved=False,
        satisfaction="unsatisfied",
        reason="只补发了两个月，社保仍未补缴",
    )
    refused = client.post(
        f"/requests/tickets/{ticket_id}/actions", json={"action": "archive"}, headers=as_center
    )
    assert refused.status_code == 422 and refused.json()["field"] == "reason"
    reopened = act(as_center, action="reopen", reason="诉求人不满意")
    assert (reopened["status"], reopened["department"]) == ("dispatched", "city-hrss")
    act(as_dept, action="sign")
    act(as_dept, action="resolve", reply="工资与社保均已补足，经诉求人确认。")
    act(
        as_center,
        action="follow_up",
        reached=True,
        responded=True,
        solved=True,
        satisfaction="satisfied",
    )
    final = act(as_center, action="archive")

    assert final["status"] == "archived"
    assert [e["label"] for e in final["history"]] == [
        "受理",
        "派单",
        "签收",
        "办理",
        "延期",
        "答复/办结",
        "回访",
        "重办",
        "签收",
        "答复/办结",
        "回访",
        "归档",
    ]
    assert [f["satisfaction"] for f in final["follow_ups"]] == ["unsatisfied", "satisfied"]
    metrics = client.get(
        "/requests/metrics", params={"department": "city-hrss"}, headers=as_center
    ).json()
    row = metrics["departments"][0]
    assert row["satisfaction_rate"] == {
        **row["satisfaction_rate"],
        "numerator": 1,
        "denominator": 1,
    }
    assert row["on_time_resolve_rate"]["value"] == 1.0
    assert metrics["dispatch_accuracy"]["value"] == 1.0
    assert metrics["auto_dispatch_accuracy"]["denominator"] == 1
