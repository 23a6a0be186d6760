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
from datetime import UTC
from typing import Any

from fastapi import Depends, Request, Response, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, APIKeyHeader

from zhixiang.access import ANONYMOUS, AccessStore, Principal, SignedIn, permission
from zhixiang.errors import Forbidden, Unauthenticated

SESSION_COOKIE = "zx_session"
KEY_HEADER = "X-API-Key"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
PUBLIC = "public"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declared so that the OpenAPI document (and the Authorize button of /docs) shows how to sign in;
# the values are read by `authenticate` itself.
_key_scheme = APIKeyHeader(name=KEY_HEADER, auto_error=False, description="机器使用的 API 密钥")
_session_scheme = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="浏览器登录会话（写操作另需 X-CSRF-Token）"
)


def access_store(request: Request) -> AccessStore:
    """The app's access store, opened once at start-up by `create_app`."""
    return request.app.state.access


async def _form_value(request: Request, name: str) -> str:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(name)
        return value if isinstance(value, str) else ""
    return ""


async def authenticate(request: Request) -> Principal:
    """The caller of this request (anonymous when it brings no credentials); cached on the request.

    A wrong, expired or revoked API key is refused (401) even on a public route: the client must
    learn that its key is bad. A session cookie that has ended reads as no cookie, so a stale cookie
    never locks anyone out of the public pages (the login page among them).
    """
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    store = access_store(request)
    key = request.headers.get(KEY_HEADER)
    principal = ANONYMOUS
    if key:
        principal = store.authenticate_key(key)
    elif token := request.cookies.get(SESSION_COOKIE):
        try:
            principal, csrf = store.session(token)
        except Unauthenticated:
            principal, csrf = ANONYMOUS, ""
        request.state.csrf_token = csrf or None
        if principal is not ANONYMOUS and request.method not in _SAFE_METHODS:
            given = request.headers.get(CSRF_HEADER) or await _form_value(request, CSRF_FIELD)
            if not secrets.compare_digest(given.encode(), csrf.encode()):
                raise Forbidden("表单已失效或缺少 CSRF 令牌，请刷新页面后重试", CSRF_FIELD)
    request.state.principal = principal
    return principal


def requires(name: str) -> Any:
    """A dependency that lets the request through only if the caller holds permission `name`."""
    permission(name)  # an unknown name fails when the route module is imported

    async def dependency(
        request: Request,
        _key: str | None = Security(_key_scheme),
        _session: str | None = Security(_session_scheme),
    ) -> Principal:
        principal = await authenticate(request)
        if principal is ANONYMOUS and request.cookies.get(SESSION_COOKIE):
            raise Unauthenticated("会话已结束或已过期，请重新登录", "session")
        principal.require(name)
        return principal

    dependency.zx_permission = name  # type: ignore[attr-defined]
    return Depends(dependency)


def public(*, identify: bool = True) -> Any:
    """A dependency for routes anyone may call; it still identifies a caller who brings credentials
    (unless `identify` is off: the sign-in route must not trip over the session it replaces)."""

    async def dependency(request: Request) -> Principal:
        return await authenticate(request) if identify else ANONYMOUS

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


def start_session(response: Response, signed: SignedIn, *, secure: bool = True) -> None:
    """Hand a new session to the browser: HttpOnly (no script reads it), SameSite=Lax (no other
    site's form sends it), Secure unless `Settings.cookie_secure` is off for a local demo."""
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        expires=signed.expires_at.replace(tzinfo=UTC),  # the store keeps naive UTC
        httponly=True,
        secure=secure,
        samesite="lax",
        path="/",
    )


def end_session(response: Response, *, secure: bool = True) -> None:
    """Tell the browser to forget the session cookie (the store has ended the session itself)."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=secure, samesite="lax")
