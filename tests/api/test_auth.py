"""Every route declares who may call it; keys and sessions authenticate; sessions need CSRF to write."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from zhixiang.access import AccessStore, Principal, Role, operator
from zhixiang.api import create_app
from zhixiang.api._auth import SESSION_COOKIE, declared_permission, public, requires
from zhixiang.errors import ZhixiangError


def api_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """(path, route) of every operation, routers included with `include_router` among them.

    FastAPI 0.16x keeps an included router as one `_IncludedRouter` entry of `app.routes` (not a
    copy of each route), so a walk over `app.routes` alone sees only the app's own few routes.
    """
    found = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            found.append((context.path, context))
    return found


def undeclared(app: FastAPI) -> list[str]:
    return [
        f"{sorted(route.methods)} {path}"
        for path, route in api_routes(app)
        if declared_permission(route) is None
    ]


def test_every_route_of_the_app_declares_a_permission(home: Path) -> None:
    app = create_app()
    paths = {path for path, _ in api_routes(app)}
    # the walk reaches into every included router: the API's and the web pages'
    assert {"/data/catalog", "/policies/enterprises/{credit_code}", "/health", "/app/data"} <= paths
    assert len(paths) > 50
    assert undeclared(app) == []
    # matched in this order, one route at a time: the health check first, then intake's router
    order = [path for path, _ in api_routes(app)]
    assert order[0] == "/health" and order[1].startswith("/requests/")


def test_the_walk_finds_an_undeclared_route_in_an_included_router() -> None:
    from fastapi import APIRouter

    inner, outer = APIRouter(prefix="/inner"), APIRouter(prefix="/outer")

    @inner.get("/open")
    def declared(caller: Annotated[Principal, public()]) -> dict:
        return {}

    @inner.post("/forgotten")
    def forgotten() -> dict:
        return {}

    outer.include_router(inner)
    app = FastAPI()
    app.include_router(outer)
    assert undeclared(app) == ["['POST'] /outer/inner/forgotten"]


@pytest.fixture
def client(tmp_path: Path) -> tuple[TestClient, AccessStore]:
    store = AccessStore(
        f"sqlite:///{tmp_path / 'access.db'}",
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )
    store.migrate()
    app = FastAPI()
    app.state.access = store

    @app.exception_handler(ZhixiangError)
    async def refused(_, exc: ZhixiangError):
        from fastapi.responses import JSONResponse

        return JSONResponse({"detail": exc.message}, exc.status)

    @app.get("/open")
    def open_(caller: Annotated[Principal, public()]) -> dict:
        return {"who": caller.actor}

    @app.post("/dispatch")
    def dispatch(caller: Annotated[Principal, requires("tickets.dispatch")]) -> dict:
        return {"who": caller.actor}

    return TestClient(app), store


def test_keys_sessions_and_csrf(client: tuple[TestClient, AccessStore]) -> None:
    http, store = client
    root = operator("root")
    secret, _ = store.create_key(root, ["agent"], label="坐席系统", department="center")
    store.create_user(root, "wang", "a good password 1", [Role.AGENT], department="center")
    store.create_user(root, "li", "a good password 2", [Role.HANDLER], department="city-hrss")

    assert http.get("/open").json() == {"who": "anonymous:public"}
    assert http.post("/dispatch").status_code == 401
    assert http.post("/dispatch", headers={"X-API-Key": "zx_bad"}).status_code == 401
    assert http.post("/dispatch", headers={"X-API-Key": secret}).json()["who"].startswith("key:")

    signed = store.sign_in("wang", "a good password 1")
    http.cookies.set(SESSION_COOKIE, signed.token)
    assert http.get("/open").json() == {"who": "user:wang"}
    assert http.post("/dispatch").status_code == 403  # a cookie alone never writes
    assert http.post("/dispatch", headers={"X-CSRF-Token": "forged"}).status_code == 403
    ok = http.post("/dispatch", headers={"X-CSRF-Token": signed.csrf_token})
    assert ok.json() == {"who": "user:wang"}
    form = http.post("/dispatch", data={"csrf_token": signed.csrf_token})
    assert form.status_code == 200
    store.sign_out(signed.token)
    ended = http.post("/dispatch", headers={"X-CSRF-Token": signed.csrf_token})
    assert ended.status_code == 401 and "重新登录" in ended.json()["detail"]
    assert http.get("/open").json() == {
        "who": "anonymous:public"
    }  # a stale cookie locks out nothing

    handler = store.sign_in("li", "a good password 2")
    http.cookies.set(SESSION_COOKIE, handler.token)
    refused = http.post("/dispatch", headers={"X-CSRF-Token": handler.csrf_token})
    assert refused.status_code == 403 and "坐席" in refused.json()["detail"]


def test_a_route_naming_an_unknown_permission_fails_at_definition() -> None:
    with pytest.raises(KeyError):
        requires("tickets.delete")


# POSTs that only compute an answer from what is sent and store nothing (seen once the walk reached
# into included routers).
COMPUTED_FROM_THE_BODY = {
    "/insight/replies/score",
    "/app/insight/replies/score",
    "/app/policies/calculator",
    "/app/ask",
    "/app/households",  # a POST only so no 身份证号 lands in an address; it computes and audits
}


def test_what_a_leader_may_call_only_reads(home: Path) -> None:
    """领导只读: a route open to a leader's permissions never changes anything."""
    from zhixiang.access import PERMISSIONS
    from zhixiang.api._auth import PUBLIC

    writes = [
        f"{sorted(route.methods)} {path} ({name})"
        for path, route in api_routes(create_app())
        if path not in COMPUTED_FROM_THE_BODY
        and (name := declared_permission(route)) not in (None, PUBLIC)
        and Role.LEADER in PERMISSIONS[name].roles
        and route.methods - {"GET", "HEAD"}
    ]
    assert writes == []
