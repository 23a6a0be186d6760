"""主动发现, the map's measures and 智能咨询 against bad input, missing tokens and the wrong role:
each refusal is a page with a message (never a 500), and no alert or ticket changed."""

from __future__ import annotations

import uuid
from datetime import date
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from web_helpers import PASSWORDS, csrf_of, everyone


@pytest.fixture
def client(platform):
    return TestClient(platform.app, base_url="http://127.0.0.1", follow_redirects=False)


def sign_in(client: TestClient, username: str) -> str:
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login", data={"username": username, "password": PASSWORDS[username], "csrf_token": token}
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/app/insight/replies/score").text)


def page_says(answer, status: int, *messages: str) -> None:
    assert answer.status_code == status, (answer.status_code, answer.text[-800:])
    assert answer.headers["content-type"].startswith("text/html")
    for message in messages:
        assert message in answer.text, message


@pytest.fixture
def an_alert(platform) -> int:
    """One open alert in the app's alert store, recorded as a scan records a surge."""
    from zhixiang.insight import Surge
    from zhixiang.web._capabilities import alerts

    today = date.today()
    surge = Surge("area_category", f"思明区|web2-{uuid.uuid4().hex}", today, today, 6, 0.5, 1e-5)
    created, _ = alerts(SimpleNamespace(app=platform.app)).record([surge])  # type: ignore[arg-type]
    return created[0].id


def _alert(platform, alert_id: int):
    return platform.app.state.insight_alerts.get(alert_id)


def test_web2_alert_actions_refuse_bad_input_and_change_nothing(client, platform, an_alert) -> None:
    from zhixiang.tickets import SearchFilters

    before = len(platform.tickets.search(everyone(), SearchFilters(limit=500)))
    csrf = sign_in(client, "agent")
    close = f"/app/insight/alerts/{an_alert}/close"
    page_says(client.post(close, data={"csrf_token": csrf}), 422, "关闭的理由")
    page_says(client.post(close, data={"csrf_token": csrf, "note": "长" * 501}), 422, "最多 500")
    page_says(client.post(close, data={"note": "已处置"}), 403)  # no CSRF token
    page_says(client.post("/app/insight/alerts/99999999/task", data={"csrf_token": csrf}), 404)
    page_says(client.post("/app/insight/alerts/abc/task", data={"csrf_token": csrf}), 422)
    assert _alert(platform, an_alert).status == "open"
    assert len(platform.tickets.search(everyone(), SearchFilters(limit=500))) == before

    note = "<script>alert(1)</script>已知事件"
    assert client.post(close, data={"csrf_token": csrf, "note": note}).status_code == 303
    assert _alert(platform, an_alert).status == "closed"
    listed = client.get("/app/insight/alerts?status=closed").text
    assert "<script>alert(1)" not in listed


def test_web2_insight_pages_refuse_the_wrong_role_and_bad_parameters(client, platform) -> None:
    assert client.get("/app/insight").status_code == 303  # not signed in: to the login page
    csrf = sign_in(client, "hrss")
    page_says(client.post("/app/insight/alerts/scan", data={"csrf_token": csrf}), 403, "坐席")
    page_says(client.get("/app/insight?days=abc"), 422, "统计区间")
    page_says(client.get("/app/insight/replies?days=-1"), 422, "统计区间")
    page_says(client.get("/app/insight/alerts?status=bogus"), 422, "状态")
    page_says(client.get("/app/insight/replies?format=pdf"), 422, "导出格式")
    huge = {"csrf_token": csrf, "title": "路灯", "reply": "长" * 20_001}
    page_says(client.post("/app/insight/replies/score", data=huge), 422, "过长")
    exported = client.get("/app/insight/replies?format=csv")
    assert exported.status_code == 200 and exported.text.startswith("\ufeff部门")
    page_says(client.get("/app/dashboard?measure=bogus"), 422, "地图指标")
    client.post("/logout", data={"csrf_token": csrf})
    sign_in(client, "dataman")  # a data officer works with no tickets: no 主动发现
    page_says(client.get("/app/insight"), 403)


def test_web2_staff_questions_are_checked(client) -> None:
    csrf = sign_in(client, "agent")
    page_says(client.post("/app/ask", data={"csrf_token": csrf}), 422, "请输入问题")
    bad = {"csrf_token": csrf, "question": "失业金", "audience": "外星人"}
    page_says(client.post("/app/ask", data=bad), 422, "请选择企业或居民")
    page_says(client.post("/app/ask", data={"question": "失业金"}), 403)
