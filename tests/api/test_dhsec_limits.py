"""Finding 7 (issue 7): every route limits its request body; nothing sent is echoed back.

Unauthenticated `POST /policies/calculate` accepted a 50 MB body and echoed it in its error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from zhixiang.api import create_app
from zhixiang.api._limits import BodyLimit, RouteLimit
from zhixiang.config import load_settings

MB = 1_000_000
FILLER = b'{"facts": {"' + b"A" * 64 + b'": "'


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home = tmp_path_factory.mktemp("limits")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ZHIXIANG_HOME", str(home))
        for name in ("WAREHOUSE", "TICKETS_DB", "ACCESS_DB"):
            env.delenv(f"ZHIXIANG_{name}", raising=False)
        with TestClient(create_app(load_settings())) as http:
            yield http


def test_a_50_mb_body_to_the_public_calculator_is_refused_unread(client: TestClient) -> None:
    body = FILLER + b"9" * (50 * MB)
    response = client.post(
        "/policies/calculate", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "上限 1 MB" in response.json()["detail"]
    assert len(response.content) < 200 and b"AAAA" not in response.content


def test_a_chunked_body_is_cut_off_at_the_limit(client: TestClient) -> None:
    """No Content-Length: the body is counted as it arrives and refused just past the limit.
    (TestClient reads a streamed body whole before sending it, so the ASGI app is called here.)"""
    import anyio

    app = client.app
    received, sent = 0, []

    async def receive() -> dict:
        nonlocal received
        received += 1
        more = received < 800  # 800 × 64 kB = 52 MB, if it were all read
        return {"type": "http.request", "body": b"9" * 65536, "more_body": more}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/policies/calculate",
        "raw_path": b"/policies/calculate",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
        "app": app,
    }
    with ThreadPoolExecutor(1) as pool:  # tests/web's browser keeps a loop on the main thread
        pool.submit(anyio.run, app, scope, receive, send).result()  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 413 and "上限 1 MB" in body.decode()
    assert received < 20 and b"9999" not in body  # stopped reading a little past 1 MB


def test_a_small_body_still_works(client: TestClient) -> None:
    response = client.post("/policies/calculate", json={"facts": {"欠税": False}})
    assert response.status_code == 200


def test_routes_that_take_files_have_their_own_limits(client: TestClient) -> None:
    """Open311 takes up to 4 photos of 5 MB; the resident's report form one photo (5 MB)."""
    photo = b"\xff\xd8\xff" + b"0" * (3 * MB)
    files = {"media": ("photo.jpg", photo, "image/jpeg")}
    open311 = client.post("/open311/v2/requests.json", files=files, data={"service_code": "x"})
    assert open311.status_code != 413  # refused for what it lacks (a key), not for its size
    web = client.post("/bianmin/report", files=files, data={"title": "路灯坏了"})
    assert web.status_code != 413
    big = {"media": ("photo.jpg", b"0" * (22 * 1024 * 1024), "image/jpeg")}
    assert client.post("/open311/v2/requests.json", files=big).status_code == 413
    bigger_photo = {"photo": ("photo.jpg", b"0" * (7 * MB), "image/jpeg")}
    assert client.post("/bianmin/report", files=bigger_photo).status_code == 413
    # the file routes' limits apply to them only
    assert client.post("/policies/calculate", files=files).status_code == 413


def test_the_middleware_never_calls_the_app_for_a_declared_oversize_body() -> None:
    calls = []
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict:
        calls.append(1)
        return {"n": len(await request.body())}

    app.add_middleware(
        BodyLimit, default=1000, routes=[RouteLimit("POST", re.compile("/big"), 10_000)]
    )
    http = TestClient(app)
    assert http.post("/echo", content=b"x" * 999).json() == {"n": 999}
    assert http.post("/echo", content=b"x" * 1001).status_code == 413
    assert len(calls) == 1
    refused = http.post("/echo", content=b"1", headers={"content-length": "many"})
    assert refused.status_code == 400


def test_every_route_of_the_app_is_behind_the_limit(home: Path) -> None:
    app = create_app()
    limits = [m for m in app.user_middleware if m.cls is BodyLimit]
    assert len(limits) == 1 and limits[0].kwargs["default"] == load_settings().max_body_bytes
