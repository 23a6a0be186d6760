"""Authentication and permission checks for every route, declared where the route is defined.

A route names what it needs with `requires("tickets.dispatch")` (or `public()`); the dependency
finds the caller — an API key in `X-API-Key`, else a browser session cookie — and asks
`zhixiang.access` whether its roles allow it. A test walks the app and fails for any route that
declares neither, so no route can be added without deciding who may call it.

Browser sessions also need the session's CSRF token on every unsafe request (header `X-CSRF-Token`
or form field `csrf_token`): a cookie alone never authorises a change.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute

from zhixiang.access import ANONYMOUS, AccessStore, Principal, permission
from zhixiang.errors import Forbidden

SESSION_COOKIE = "zx_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
PUBLIC = "public"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def access_store(request: Request) -> AccessStore:
    """The app's access store, opened once at start-up by `create_app`."""
    return request.app.state.access


async def _csrf_given(request: Request) -> str:
    given = request.headers.get(CSRF_HEADER)
    if given:
        return given
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def authenticate(request: Request) -> Principal:
    """The caller of this request (anonymous when it brings no credentials); cached on the request."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    store = access_store(request)
    key = request.headers.get("x-api-key")
    principal = ANONYMOUS
    if key:
        principal = store.authenticate_key(key)
    elif token := request.cookies.get(SESSION_COOKIE):
        principal, csrf = store.session(token)
        if request.method not in _SAFE_METHODS and not secrets.compare_digest(
            (await _csrf_given(request)).encode(), csrf.encode()
        ):
            raise Forbidden("表单已失效或缺少 CSRF 令牌，请刷新页面后重试", CSRF_FIELD)
    request.state.principal = principal
    return principal


def requires(name: str) -> Any:
    """A dependency that lets the request through only if the caller holds permission `name`."""
    permission(name)  # an unknown name fails when the route module is imported

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        principal.require(name)
        return principal

    dependency.zx_permission = name  # type: ignore[attr-defined]
    return Depends(dependency)


def public() -> Any:
    """A dependency for routes anyone may call; it still identifies a caller who brings credentials."""

    async def dependency(request: Request) -> Principal:
        return await authenticate(request)

    dependency.zx_permission = PUBLIC  # type: ignore[attr-defined]
    return Depends(dependency)


def declared_permission(route: APIRoute) -> str | None:
    """The permission a route declared (`public` for open routes), or None if it declared nothing."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        found = getattr(dependant.call, "zx_permission", None)
        if found is not None:
            return found
        pending.extend(dependant.dependencies)
    return None
