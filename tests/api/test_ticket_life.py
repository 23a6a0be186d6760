"""A whole ticket life over HTTP — Open311 intake to 归档 — on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from zhixiang.api import create_app
from zhixiang.requests import TicketStore


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TicketStore]:
    """A fresh, migrated store; on PostgreSQL in a throw-away schema so parallel tests never meet."""
    if request.param == "sqlite":
        store = TicketStore(f"sqlite:///{tmp_path / 'tickets.db'}")
        store.migrate()
        yield store
        store.close()
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"zx_requests_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    store = TicketStore(f"{base}?options=-csearch_path%3D{schema}")
    try:
        store.migrate()
        yield store
    finally:
        store.close()
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_ticket_life_from_open311_intake_to_archive(home: Path, store: TicketStore) -> None:
    app = create_app()
    app.state.requests_store = store
    client = TestClient(app)
    intake, _ = store.create_key("intake", label="12345")
    dept, _ = store.create_key("department", "siming-housing")
    as_dept = {"X-API-Key": dept}
    as_center = {"X-API-Key": intake}

    created = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": intake,
            "service_code": "urban",
            "description": "莲花五村12号楼下的路灯坏了半个月，晚上很黑，老人出行不便。",
            "address_string": "思明区莲花五村12号",
            "phone": "13812345678",
            "attribute[title]": "莲花五村路灯不亮",
            "attribute[region_code]": "350203008003",
            "attribute[priority]": "general",
        },
        headers={"Idempotency-Key": "open311-1"},
    )
    assert created.status_code == 201, created.text
    [receipt] = created.json()
    ticket_id = int(receipt["service_request_id"])
    assert "思明区建设与交通局" in receipt["service_notice"]
    token = client.get(f"/open311/v2/tokens/{receipt['token']}.json").json()
    assert token == [{"service_request_id": str(ticket_id), "token": receipt["token"]}]

    def act(headers: dict[str, str], **command: object) -> dict:
        response = client.post(
            f"/requests/tickets/{ticket_id}/actions", json=command, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    ticket = client.get(f"/requests/tickets/{ticket_id}", headers=as_dept).json()
    assert (ticket["status"], ticket["department"]) == ("dispatched", "siming-housing")
    assert ticket["reporter_contact"] == "138****5678"

    act(as_dept, action="sign")
    act(as_dept, action="start")
    due = ticket["due_at"]
    extended = act(as_dept, action="extend", days=3, reason="需更换整条线路，等待材料")
    assert extended["due_at"] > due and extended["extensions"] == 1
    act(as_dept, action="resolve", reply="已更换路灯线路，恢复照明。")
    public = client.get(f"/open311/v2/requests/{ticket_id}.json").json()[0]
    assert public["status"] == "closed" and "13812345678" not in str(public)

    act(
        as_center,
        action="follow_up",
        reached=True,
        responded=True,
        solved=False,
        satisfaction="unsatisfied",
        reason="只修了一盏，另一盏仍不亮",
    )
    refused = client.post(
        f"/requests/tickets/{ticket_id}/actions", json={"action": "archive"}, headers=as_center
    )
    assert refused.status_code == 422 and refused.json()["field"] == "reason"
    reopened = act(as_center, action="reopen", reason="诉求人不满意")
    assert (reopened["status"], reopened["department"]) == ("dispatched", "siming-housing")
    act(as_dept, action="sign")
    act(as_dept, action="resolve", reply="两盏路灯均已修复，经现场确认。")
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
        "/requests/metrics", params={"department": "siming-housing"}, headers=as_center
    ).json()
    row = metrics["departments"][0]
    assert row["satisfaction_rate"] == {
        **row["satisfaction_rate"],
        "numerator": 1,
        "denominator": 1,
    }
    assert row["on_time_resolve_rate"]["value"] == 1.0
    assert metrics["dispatch_accuracy"]["value"] == 1.0
