"""The page layer's plumbing: templates, the signed-in person, CSRF in forms, and refusals as pages.

Every page route declares its permission with the API's own `requires()`/`public()`, so the same
test that walks the API's routes walks the pages. A refusal on a page is a page: not signed in or
session over → the login page with the reason; no permission → a 403 page saying which role is
needed; bad input in a form → the form again with the message next to the field. Never a 500.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import URL, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zhixiang.access import ANONYMOUS, ROLE_LABELS, Principal, Role
from zhixiang.api import CSRF_FIELD, PUBLIC, SESSION_COOKIE, authenticate
from zhixiang.errors import Unauthenticated, ZhixiangError
from zhixiang.rules import format_money
from zhixiang.web._regions import region_name, street_options

HERE = Path(__file__).parent
log = logging.getLogger(__name__)
#: Paths served by the page layer; everything else on the app is the JSON API.
PAGE_PREFIXES = ("/app", "/qiye", "/bianmin", "/login", "/logout")
#: The double-submit CSRF cookie for people who are not signed in (the portals' public forms).
PUBLIC_CSRF_COOKIE = "zx_form"
#: Pages may run only the app's own scripts: a stored `<script>` can never execute.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)

templates = Jinja2Templates(directory=HERE / "templates")
#: How each intake channel is called on a page.
CHANNEL_LABELS = {
    "hotline": "12345热线",
    "web": "网站",
    "app": "移动应用",
    "wechat": "微信",
    "open311": "Open311 接口",
    "email": "电子邮件",
    "12345": "12345 工单导入",
}
templates.env.globals.update(
    street_options=street_options, region_name=region_name, channel_labels=CHANNEL_LABELS
)
templates.env.filters["money"] = lambda value: format_money(Decimal(str(value)))


def is_page(path: str) -> bool:
    return path == "/" or path.startswith(PAGE_PREFIXES)


#: What every page response says unless its route set it already.
PAGE_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)


class PageHeaders:
    """Adds `PAGE_HEADERS` to page responses; other paths (the JSON API) pass straight through.

    Plain ASGI rather than `@app.middleware("http")`: Starlette's `BaseHTTPMiddleware` runs every
    request of the app, API calls included, through a task group and memory streams, which cost
    0.4–0.8 ms of CPU per intake request (measured through ASGI with the store stubbed out).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_page(URL(scope=scope).path):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in PAGE_HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- who is here ------------------------------------------------------------------------------------


def anyone() -> Any:
    """`public()` for pages: a session that ended or expired makes the visitor anonymous on a
    public page instead of sending them to sign in (staff pages still do, saying why)."""

    async def dependency(request: Request) -> Principal:
        try:
            return await authenticate(request)
        except Unauthenticated:
            request.state.principal = ANONYMOUS
            return ANONYMOUS

    dependency.zx_permission = PUBLIC  # type: ignore[attr-defined]
    return Depends(dependency)


async def current_user(request: Request) -> Principal:
    """The signed-in person, or ANONYMOUS; a stale cookie counts as nobody (never an error here)."""
    try:
        return await authenticate(request)
    except ZhixiangError:
        return ANONYMOUS


def _session_csrf(request: Request) -> str | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return request.app.state.access.session(token)[1]
    except ZhixiangError:
        return None


def form_token(request: Request) -> str:
    """The CSRF token a form on this page must carry: the session's, or the public form cookie's."""
    cached = getattr(request.state, "form_token", None)
    if cached:
        return cached
    token = _session_csrf(request) or request.cookies.get(PUBLIC_CSRF_COOKIE) or ""
    if not token:
        token = secrets.token_urlsafe(24)
        request.state.new_public_token = token
    request.state.form_token = token
    return token


async def check_public_form(request: Request) -> None:
    """Refuse a form from someone not signed in unless it carries the public form cookie's token.

    Signed-in people's forms are checked by `zhixiang.api._auth` against their session's token.
    """
    if request.cookies.get(SESSION_COOKIE) and _session_csrf(request):
        return
    form = await request.form()
    given = form.get(CSRF_FIELD)
    cookie = request.cookies.get(PUBLIC_CSRF_COOKIE, "")
    if not (isinstance(given, str) and cookie and secrets.compare_digest(given, cookie)):
        from zhixiang.errors import Forbidden

        raise Forbidden("表单已失效或缺少 CSRF 令牌，请刷新页面后重试", CSRF_FIELD)


def secure_cookies(request: Request) -> bool:
    """Cookies go over HTTPS only, except to a browser on this machine (the demo's http://127.0.0.1)."""
    settings = request.app.state.settings
    local = request.url.hostname in ("127.0.0.1", "localhost", "::1")
    return settings.cookie_secure and not (local and request.url.scheme == "http")


# -- rendering --------------------------------------------------------------------------------------

#: The workbench's sections and the permission that shows each in the navigation.
NAVIGATION = (
    ("/app/tickets", "工单", "tickets.read"),
    ("/app/tickets/new", "登记诉求", "tickets.intake"),
    ("/app/policies", "政策", "policies.explain"),
    ("/app/data", "数据", "data.sources"),
    ("/app/dashboard", "驾驶舱", "tickets.metrics"),
    ("/app/insight", "主动发现", "insight.read"),
    ("/app/ask", "智能咨询", "policies.explain"),
    ("/app/review", "智能快审", "review.decide"),
    ("/app/grants", "免申即享", "grants.read"),
)


def render(
    request: Request,
    template: str,
    status: int = 200,
    user: Principal | None = None,
    **context: Any,
) -> HTMLResponse:
    user = user or getattr(request.state, "principal", None) or ANONYMOUS
    nav = [(href, label) for href, label, perm in NAVIGATION if user.can(perm)]
    roles = "、".join(ROLE_LABELS[r] for r in Role if r in user.roles)
    directory = request.app.state.access.directory
    response = templates.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "roles": roles,
            "department_name": directory.name_of(user.department) if user.department else None,
            "nav": nav,
            "csrf_field": CSRF_FIELD,
            "csrf_token": form_token(request),
            "path": request.url.path,
            **context,
        },
        status_code=status,
    )
    new_token = getattr(request.state, "new_public_token", None)
    if new_token:
        response.set_cookie(
            PUBLIC_CSRF_COOKIE,
            new_token,
            httponly=True,
            samesite="strict",
            secure=secure_cookies(request),
        )
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# -- refusals as pages ------------------------------------------------------------------------------


def _login_redirect(request: Request, exc: ZhixiangError) -> Response:
    """Back to where they were after signing in; for a refused form, the page that held the form."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        referer = urlsplit(request.headers.get("referer", "/"))
        target = referer.path if referer.path.startswith("/") else "/"
    reason = quote("请先登录" if exc.field == "credentials" else exc.message)
    response = redirect(f"/login?next={quote(target)}&reason={reason}")
    if request.cookies.get(SESSION_COOKIE):
        response.delete_cookie(SESSION_COOKIE)
    return response


def page_error(request: Request, status: int, message: str, field: str | None = None) -> Response:
    return render(request, "error.html", status, message=message, field=field, status_code=status)


def _install_error_pages(app: FastAPI) -> None:
    """Wrap the API's handlers: page paths get pages, API paths keep their JSON answers."""
    Handler = Callable[[Request, Any], Awaitable[Response]]
    # the API's ZhixiangError handler (zhixiang.api.create_app) is a coroutine function
    api_refusal = cast(Handler, app.exception_handlers[ZhixiangError])

    async def refusal(request: Request, exc: ZhixiangError) -> Response:
        if not is_page(request.url.path):
            return await api_refusal(request, exc)
        if isinstance(exc, Unauthenticated):
            return _login_redirect(request, exc)
        return page_error(request, exc.status, exc.message, exc.field)

    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if not is_page(request.url.path):
            return await request_validation_exception_handler(request, exc)
        where = "、".join(str(e["loc"][-1]) for e in exc.errors())
        return page_error(request, 422, f"地址中的参数不正确：{where}", where)

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not is_page(request.url.path):
            return await http_exception_handler(request, exc)
        message = {404: "没有这个页面", 405: "不支持这种请求方式"}.get(exc.status_code)
        if exc.status_code == 400:  # the form parser's refusals (starlette), in English
            too_big = "exceeded maximum size" in str(exc.detail)
            message = (
                "提交的内容过大：单项不能超过 1 MB"
                if too_big
                else "表单格式不正确，请刷新页面后重试"
            )
        return page_error(request, exc.status_code, message or str(exc.detail))

    async def failure(request: Request, exc: Exception) -> Response:
        """A fault of ours: logged with its traceback, and a page that says so in plain words."""
        log.exception("页面出错：%s %s", request.method, request.url.path, exc_info=exc)
        if not is_page(request.url.path):
            return PlainTextResponse("Internal Server Error", 500)
        return page_error(request, 500, "系统出错了，已记录，请稍后再试")

    app.add_exception_handler(Exception, failure)
    # starlette types a handler as taking any Exception; each is registered for its own class
    app.add_exception_handler(ZhixiangError, refusal)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]


def mount(app: FastAPI) -> None:
    """Hang the pages, their static assets and their error pages on the API's app."""
    from zhixiang.web import (
        _ask,
        _citizen,
        _citizen_household,
        _dashboard,
        _data,
        _enterprise,
        _grants,
        _home,
        _household_lookup,
        _insight,
        _policies,
        _qiye_services,
        _review,
        _tickets,
    )

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (
        _home,
        _tickets,
        _policies,
        _data,
        _dashboard,
        _insight,
        _enterprise,
        _citizen,
        _ask,
        _review,
        _qiye_services,
        _citizen_household,
        _grants,
        _household_lookup,
    ):
        app.include_router(module.router)
    _install_error_pages(app)

    app.add_middleware(PageHeaders)
