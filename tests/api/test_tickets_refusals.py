"""Bad input gets a precise 4xx — never a 500 — and a refused request changes nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from zhixiang.access import operator
from zhixiang.api import create_app
from zhixiang.tickets import TicketStore

LAMP = {
    "title": "莲花五村路灯不亮",
    "body": "莲花五村12号楼下的路灯坏了半个月，晚上很黑。",
    "category": "城乡建设",
    "region_code": "350203008003",
    "reporter_contact": "13812345678",
}


@dataclass
class Env:
    client: TestClient
    store: TicketStore
    intake: dict[str, str]
    siming: dict[str, str]
    health: dict[str, str]

    def snapshot(self) -> list[list[tuple]]:
        with self.store.engine.connect() as conn:
            return [
                list(conn.execute(text(f"SELECT * FROM {table} ORDER BY id")))
                for table in ("tickets", "ticket_events", "follow_ups", "ticket_media")
            ]


@pytest.fixture
def env(home: Path) -> Iterator[Env]:
    store = TicketStore(f"sqlite:///{home / 'tickets.db'}")
    store.migrate()
    app = create_app(ticket_store=store)
    access, root = app.state.access, operator("test")
    keys = [
        access.create_key(root, ["agent"], label="坐席", department="center")[0],
        access.create_key(root, ["handler"], label="思明建设", department="siming-housing")[0],
        access.create_key(root, ["handler"], label="卫健委", department="city-health")[0],
    ]
    with TestClient(app) as client:
        yield Env(client, store, *({"X-API-Key": k} for k in keys))
    store.close()


def _ticket(env: Env, **changes: object) -> int:
    response = env.client.post("/requests/tickets", json={**LAMP, **changes}, headers=env.intake)
    assert response.status_code == 201, response.text
    return response.json()["ticket"]["id"]


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"title": "   "}, 422, "title"),
        ({"title": "路灯\x00不亮"}, 422, "title"),
        ({"body": ""}, 422, "body"),
        ({"body": "很" * 5001}, 422, "body"),
        ({"title": "灯" * 201}, 422, "title"),
        ({"region_code": "110101"}, 422, "region_code"),
        ({"region_code": "35020300800X"}, 422, "region_code"),
        ({"region_code": "3502030"}, 422, "region_code"),
        ({"region_code": "350203999"}, 422, "region_code"),
        ({"category": "外星人入侵"}, 422, "category"),
        ({"priority": "urgent-ish"}, 422, "priority"),
        ({"reporter_contact": "call me maybe"}, 422, "reporter_contact"),
        ({"lat": 24.48}, 422, "lat"),
        ({"unexpected": 1}, 422, "unexpected"),
    ],
)
def test_bad_intake_is_refused_with_the_field_named(
    env: Env, changes: dict, status: int, field: str
) -> None:
    before = env.snapshot()
    response = env.client.post("/requests/tickets", json={**LAMP, **changes}, headers=env.intake)
    assert response.status_code == status, response.text
    assert field in response.text
    assert env.snapshot() == before


def test_intake_needs_an_intake_permission(env: Env) -> None:
    before = env.snapshot()
    assert env.client.post("/requests/tickets", json=LAMP).status_code == 401
    bad = {"X-API-Key": "zx_nope_nope"}
    assert env.client.post("/requests/tickets", json=LAMP, headers=bad).status_code == 401
    assert env.client.post("/requests/tickets", json=LAMP, headers=env.siming).status_code == 403
    assert env.snapshot() == before


def test_a_retried_post_returns_the_first_ticket_and_a_changed_one_is_refused(env: Env) -> None:
    headers = {**env.intake, "Idempotency-Key": "call-20261125-0001"}
    first = env.client.post("/requests/tickets", json=LAMP, headers=headers)
    before = env.snapshot()
    again = env.client.post("/requests/tickets", json=LAMP, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["ticket"]["id"] == first.json()["ticket"]["id"]
    changed = env.client.post(
        "/requests/tickets", json={**LAMP, "title": "别的事"}, headers=headers
    )
    assert changed.status_code == 422 and changed.json()["field"] == "Idempotency-Key"
    assert env.snapshot() == before


def test_transitions_out_of_order_or_by_the_wrong_party_change_nothing(env: Env) -> None:
    ticket_id = _ticket(env)
    url = f"/requests/tickets/{ticket_id}/actions"
    before = env.snapshot()
    cases = [
        (env.siming, {"action": "resolve", "reply": "已修"}, 409),  # not signed yet
        (env.siming, {"action": "follow_up", "reached": True}, 403),  # only the centre follows up
        (env.health, {"action": "sign"}, 403),  # another department's ticket
        (env.intake, {"action": "sign"}, 403),  # the centre does not sign
        (env.siming, {"action": "archive"}, 403),
        (env.intake, {"action": "reopen"}, 409),
        (env.siming, {"action": "teleport"}, 422),
        (env.siming, {"action": "return"}, 422),  # 退单 needs a reason
        (env.intake, {"action": "reassign", "department": "siming-housing"}, 422),
        (env.intake, {"action": "reassign", "department": "no-such-bureau"}, 422),
        (env.siming, {"action": "extend", "days": 3, "reason": "x"}, 409),  # not signed
        (env.siming, {"action": "sign", "days": "many"}, 422),
        ({}, {"action": "sign"}, 401),
    ]
    for headers, command, status in cases:
        response = env.client.post(url, json=command, headers=headers)
        assert response.status_code == status, (command, response.text)
    for path, status in [
        ("/requests/tickets/999/actions", 404),
        ("/requests/tickets/0/actions", 422),
        ("/requests/tickets/99999999999999999999/actions", 422),
    ]:
        assert (
            env.client.post(path, json={"action": "sign"}, headers=env.siming).status_code == status
        )
    assert env.snapshot() == before

    assert env.client.post(url, json={"action": "sign"}, headers=env.siming).status_code == 200
    replay = env.client.post(url, json={"action": "sign"}, headers=env.siming)
    assert replay.status_code == 409 and "已签收" in replay.json()["detail"]


def test_departments_see_only_their_own_queue_and_tickets(env: Env) -> None:
    ticket_id = _ticket(env)
    _ticket(
        env, category="卫生计生", title="社区医院排队太久", body="社区卫生服务中心挂号排队两小时"
    )
    own = env.client.get("/requests/queues/siming-housing", headers=env.siming)
    assert [t["id"] for t in own.json()] == [ticket_id]
    assert env.client.get("/requests/queues/city-health", headers=env.siming).status_code == 403
    assert env.client.get("/requests/queues/nowhere", headers=env.siming).status_code == 404
    assert env.client.get(f"/requests/tickets/{ticket_id}", headers=env.health).status_code == 403
    found = env.client.get("/requests/tickets", params={"q": "排队"}, headers=env.siming).json()
    assert found == []
    assert (
        len(env.client.get("/requests/tickets", params={"q": "排队"}, headers=env.intake).json())
        == 1
    )
    other = env.client.get(
        "/requests/tickets", params={"department": "city-health"}, headers=env.siming
    )
    assert other.status_code == 403
    for params in (
        {"limit": 0},
        {"limit": -1},
        {"offset": -5},
        {"offset": 10**20},
        {"since": "0001-01-01T00:00:00"},
        {"until": "9999-12-31T23:59:59-12:00"},
        {"region": "350203999"},
    ):
        refused = env.client.get("/requests/tickets", params=params, headers=env.intake)
        assert refused.status_code == 422, (params, refused.text)
    for params in ({"limit": -1}, {"offset": 10**20}):
        queue = env.client.get("/requests/queues/center", params=params, headers=env.intake)
        assert queue.status_code == 422
    far = env.client.get(
        "/requests/metrics", params={"since": "0001-01-01T00:00:00"}, headers=env.intake
    )
    assert far.status_code == 422
    assert (
        env.client.get(
            "/requests/metrics", params={"department": "city-health"}, headers=env.siming
        ).status_code
        == 403
    )


def test_contact_is_masked_and_hidden_from_departments_when_confidential(env: Env) -> None:
    plain = _ticket(env)
    secret = _ticket(
        env, confidential=True, title="举报工地夜间施工", body="某工地每晚施工到凌晨两点"
    )
    center_view = env.client.get(f"/requests/tickets/{secret}", headers=env.intake).json()
    dept_view = env.client.get(f"/requests/tickets/{secret}", headers=env.siming).json()
    assert center_view["reporter_contact"] == "138****5678"
    assert dept_view["reporter_contact"] == "保密"
    assert (
        env.client.get(f"/requests/tickets/{plain}", headers=env.siming).json()["reporter_contact"]
        == "138****5678"
    )
    assert "13812345678" not in env.client.get("/requests/tickets", headers=env.intake).text


def test_revoked_keys_are_refused(env: Env) -> None:
    access = env.client.app.state.access
    secret, key = access.create_key(
        operator("test"), ["handler"], label="卫健委", department="city-health"
    )
    assert (
        env.client.get("/requests/queues/city-health", headers={"X-API-Key": secret}).status_code
        == 200
    )
    access.revoke_key(operator("test"), key.id)
    assert (
        env.client.get("/requests/queues/city-health", headers={"X-API-Key": secret}).status_code
        == 401
    )


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_fields = st.sampled_from(
    [
        *LAMP,
        "channel",
        "priority",
        "lat",
        "lon",
        "grid_id",
        "confidential",
        "action",
        "department",
        "days",
        "reply",
        "reached",
        "satisfaction",
    ]
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.dictionaries(_fields, _json_values, max_size=6),
    path=st.sampled_from(
        ["/requests/tickets", "/requests/tickets/1/actions", "/requests/tickets/1/merge"]
    ),
)
def test_arbitrary_json_never_causes_a_server_error(env: Env, body: dict, path: str) -> None:
    if not env.snapshot()[0]:
        _ticket(env)
    for headers in (env.intake, env.siming):
        response = env.client.post(
            path, json={**LAMP, **body} if path.endswith("tickets") else body, headers=headers
        )
        assert response.status_code < 500, response.text


def test_the_calendar_route_lists_known_years_and_estimated_deadlines(env: Env) -> None:
    assert env.client.get("/requests/calendar").status_code == 401
    calendar = env.client.get("/requests/calendar", headers=env.siming).json()
    assert 2026 in calendar["known_years"] and calendar["estimated"] == []
