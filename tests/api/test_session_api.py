"""Browser sessions through the API: HttpOnly cookie, CSRF on writes, logout and password change end it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from zhixiang.access import Role, open_access, operator
from zhixiang.api import CSRF_HEADER, SESSION_COOKIE, create_app

PASSWORD = "a good password 1"


@pytest.fixture
def http(home: Path) -> TestClient:
    store = open_access()
    store.create_user(operator("root"), "wang", PASSWORD, [Role.AGENT], department="center")
    store.close()
    return TestClient(create_app(), base_url="https://testserver")


def test_sign_in_sets_an_httponly_samesite_secure_cookie_and_returns_the_csrf_token(
    http: TestClient,
) -> None:
    assert http.post("/session", json={"username": "wang", "password": "wrong"}).status_code == 401
    signed = http.post("/session", json={"username": "wang", "password": PASSWORD})
    assert signed.status_code == 200
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert attribute in cookie
    body = signed.json()
    assert body["actor"] == "user:wang" and body["roles"] == ["agent"] and body["csrf_token"]
    me = http.get("/session").json()
    assert me["authenticated"] and me["csrf_token"] == body["csrf_token"]


def test_logout_needs_the_csrf_token_and_the_cookie_never_works_again(http: TestClient) -> None:
    csrf = http.post("/session", json={"username": "wang", "password": PASSWORD}).json()[
        "csrf_token"
    ]
    token = http.cookies[SESSION_COOKIE]
    assert http.delete("/session").status_code == 403  # a cookie alone never writes
    assert http.delete("/session", headers={CSRF_HEADER: csrf}).status_code == 204
    http.cookies.set(SESSION_COOKIE, token)  # a browser that kept the old cookie
    assert http.get("/session").json()["authenticated"] is False  # public pages still open
    assert http.get("/docs").status_code == 200


def test_changing_the_password_ends_the_session(http: TestClient) -> None:
    csrf = http.post("/session", json={"username": "wang", "password": PASSWORD}).json()[
        "csrf_token"
    ]
    change = {"old_password": "not mine at all", "new_password": "another good one 7"}
    assert (
        http.post("/session/password", json=change, headers={CSRF_HEADER: csrf}).status_code == 403
    )
    change["old_password"] = PASSWORD
    assert (
        http.post("/session/password", json=change, headers={CSRF_HEADER: csrf}).status_code == 204
    )
    assert http.get("/session").json()["authenticated"] is False
    again = http.post("/session", json={"username": "wang", "password": "another good one 7"})
    assert again.status_code == 200


def test_password_guessing_is_paused_with_retry_after(http: TestClient) -> None:
    for _ in range(5):
        http.post("/session", json={"username": "wang", "password": "guess guess"})
    paused = http.post("/session", json={"username": "wang", "password": PASSWORD})
    assert paused.status_code == 429 and int(paused.headers["retry-after"]) > 0
