"""Pages carry their security headers and the JSON API does not (the plain-ASGI `PageHeaders`)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from zhixiang.api import create_app
from zhixiang.web._app import CONTENT_SECURITY_POLICY


def test_pages_get_the_security_headers_and_api_answers_do_not(home: Path) -> None:
    client = TestClient(create_app())

    page = client.get("/login")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["cache-control"] == "no-store"
    missing = client.get("/app/no-such-page")  # a refusal rendered as a page is a page too
    assert missing.headers["content-security-policy"] == CONTENT_SECURITY_POLICY

    api = client.get("/health")
    assert api.status_code == 200 and api.json()["status"] == "ok"
    assert "content-security-policy" not in api.headers
    assert "cache-control" not in api.headers
    refused = client.post("/requests/tickets", json={})
    assert refused.status_code == 401 and "content-security-policy" not in refused.headers
