"""Every form and page parameter against empty, oversized, wrong-typed and token-less input.

In-process (FastAPI's TestClient on the same app the browser tests serve): each refusal is a
page with a message (never a 500, never JSON), and the ticket store is exactly as it was.
"""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from web_helpers import PASSWORDS, csrf_of, everyone

HUGE = "长" * 200_001


@pytest.fixture
def client(platform):
    return TestClient(platform.app, base_url="http://127.0.0.1", follow_redirects=False)


def signed_in(client: TestClient, username: str) -> str:
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login", data={"username": username, "password": PASSWORDS[username], "csrf_token": token}
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/app/tickets" if username != "officer" else "/app/policies").text)


def snapshot(platform) -> list:
    from zhixiang.tickets import SearchFilters

    found = platform.tickets.search(everyone(), SearchFilters(limit=500))
    return [(t.id, t.status, t.department, t.extensions, t.reply) for t in found]


def refused(answer, *messages: str) -> None:
    assert answer.status_code in (303, 400, 401, 403, 404, 409, 413, 422), (
        answer.status_code,
        answer.text[:300],
    )
    if answer.status_code == 303:
        return
    assert answer.headers["content-type"].startswith("text/html")
    for message in messages:
        assert message in answer.text, (message, re.sub(r"\s+", " ", answer.text)[-1500:])


def test_staff_forms_refuse_bad_input_and_change_nothing(client, platform) -> None:
    from zhixiang.tickets import SearchFilters

    before = snapshot(platform)
    csrf = signed_in(client, "agent")
    post = lambda path, **data: client.post(path, data={"csrf_token": csrf, **data})  # noqa: E731
    refused(post("/app/tickets/new"), "必填")
    refused(post("/app/tickets/new", title="x", body=HUGE), "过大")
    refused(post("/app/tickets/new", title="x", body="长" * 5001), "过长")
    refused(post("/app/tickets/new", title="t", body="b", district="abc"), "行政区划")
    refused(post("/app/tickets/new", title="t", body="b", priority="zzz"), "时限类型")
    refused(post("/app/tickets/new", title="t", body="b", category="不存在"), "一级分类")
    refused(post("/app/tickets/new", title="t\x00", body="b"), "NUL")
    refused(client.post("/app/tickets/new", data={"title": "t", "body": "b"}), "CSRF")
    ticket = next(
        t
        for t in platform.tickets.search(everyone(), SearchFilters(status="received"))
        if t.group_id is None
    ).id
    refused(post(f"/app/tickets/{ticket}/dispatch", action="bogus"), "不能执行")
    refused(post(f"/app/tickets/{ticket}/dispatch", action="dispatch", department="nowhere"))
    refused(post(f"/app/tickets/{ticket}/follow-up", action="follow_up"))
    refused(post(f"/app/tickets/{ticket}/merge", into="abc"), "主单编号")
    refused(post(f"/app/tickets/{ticket}/merge", into="99999999"))
    refused(post(f"/app/tickets/{ticket}/handle", action="sign"), "部门办理人")
    refused(post("/app/tickets/99999999/dispatch", action="remind"))
    refused(client.get("/app/tickets/abc"), "参数")
    refused(client.get("/app/tickets?status=bogus"))
    refused(client.get("/app/tickets?format=pdf"), "导出格式")
    refused(client.get("/app/dashboard?period=5"), "统计区间")
    refused(client.get("/app/policies/nothing-like-this"), "没有编号")
    refused(client.get("/app/data"), "数据管理员")
    refused(client.post("/logout"), "CSRF")
    assert snapshot(platform) == before


def test_a_handlers_forms_refuse_bad_input(client, platform) -> None:
    from zhixiang.tickets import SearchFilters

    mine = platform.tickets.search(
        everyone(),
        SearchFilters(department="city-hrss", status="dispatched", limit=1),
    )
    assert mine, "the seed dispatches some tickets to city-hrss"
    ticket = mine[0].id
    before = snapshot(platform)
    csrf = signed_in(client, "hrss")
    post = lambda path, **data: client.post(path, data={"csrf_token": csrf, **data})  # noqa: E731
    refused(post(f"/app/tickets/{ticket}/handle", action="resolve"), "不能")
    refused(post(f"/app/tickets/{ticket}/handle", action="extend", reason="r", days="abc"), "整数")
    refused(post(f"/app/tickets/{ticket}/handle", action="return"), "理由")
    refused(post(f"/app/tickets/{ticket}/handle", action="return", reason="长" * 2001), "过长")
    refused(post(f"/app/tickets/{ticket}/dispatch", action="dispatch"), "坐席")
    refused(client.get("/app/queues/city-housing"), "本部门")
    assert snapshot(platform) == before


def test_policy_forms_refuse_bad_input(client) -> None:
    csrf = signed_in(client, "officer")
    post = lambda path, **data: client.post(path, data={"csrf_token": csrf, **data})  # noqa: E731
    refused(post("/app/policies/calculator", f_export_value="很多"), "出口额")
    refused(post("/app/policies/calculator", as_of="明天"), "日期")
    refused(post("/app/policies/calculator", credit_code="123"), "统一社会信用代码")
    refused(post("/app/policies/calculator", credit_code="91350200MA2XXXXX1X"))
    refused(post("/app/policies/match", as_of="x"), "日期")
    refused(client.post("/app/policies/match", data={"as_of": "2026-06-30"}), "CSRF")
    refused(client.get("/qiye/mine"), "企业用户")


def test_public_forms_refuse_bad_input_and_store_nothing(client, platform) -> None:
    before = snapshot(platform)
    csrf = csrf_of(client.get("/bianmin/report").text)
    post = lambda path, **data: client.post(path, data={"csrf_token": csrf, **data})  # noqa: E731
    refused(post("/bianmin/report"), "必填")
    refused(post("/bianmin/report", title=HUGE, body="b"), "过大")
    refused(post("/bianmin/report", title="长" * 201, body="b"), "过长")
    refused(post("/bianmin/report", title="t", body="b", district="999999"), "行政区划")
    refused(post("/bianmin/report", title="t", body="b", reporter_contact="<script>"), "联系方式")
    big = io.BytesIO(b"\xff\xd8\xff" + b"0" * 6_000_000)
    answer = client.post(
        "/bianmin/report",
        data={"csrf_token": csrf, "title": "t", "body": "b"},
        files={"photo": ("big.jpg", big, "image/jpeg")},
    )
    refused(answer, "过大")  # the body limit (photo limit + 1 MB) or the page: both say 过大
    refused(client.post("/bianmin/report", data={"title": "t", "body": "b"}), "CSRF")
    refused(post("/bianmin/track/0123/rate", satisfaction="satisfied"), "查询码")
    refused(post("/qiye/calculator"), "至少填写一项")
    refused(post("/qiye/calculator", f_export_value="1e400000"))
    refused(post("/login", username="x" * 10_000, password="y"), "用户名或密码不正确")
    refused(post("/login"), "请输入用户名")
    refused(client.post("/login", data={"username": "agent", "password": "z"}), "CSRF")
    refused(client.get("/bianmin/track?code=" + "z" * 5000), "没有这个查询码")
    refused(post("/bianmin/ask"), "请输入问题")
    # Without the policy library (no shared data) the page says so before it reads the question.
    refused(post("/qiye/ask", question="长" * 2001))
    refused(client.post("/bianmin/ask", data={"question": "失业金"}), "CSRF")
    assert snapshot(platform) == before
