"""The front door: the workbench's home, signing in and out, and links to the public portals."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from zhixiang.access import STAFF_ROLES, Principal
from zhixiang.api import SESSION_COOKIE
from zhixiang.errors import ZhixiangError
from zhixiang.web._app import anyone, check_public_form, redirect, render, secure_cookies
from zhixiang.web._forms import Form

router = APIRouter(include_in_schema=False)
Anyone = Annotated[Principal, anyone()]

#: The home page's tiles: (permission, link, title, what it is for).
TILES = (
    ("tickets.intake", "/app/tickets/new", "登记诉求", "接听来电，智能分类，重复诉求提示，派单"),
    ("tickets.read", "/app/tickets", "工单", "部门队列、时限倒计时、办理与回访、检索导出"),
    ("policies.explain", "/app/policies", "政策", "政策条件、测试用例、政策计算器"),
    ("policies.match", "/app/policies/match", "批量匹配", "运行政策找人，查看符合与差一项名单"),
    ("data.sources", "/app/data", "数据", "数据源与导入、隔离数据、质量、授权、审计"),
    ("tickets.metrics", "/app/dashboard", "驾驶舱", "三率、时效、诉求分类趋势、一图掌握"),
    ("insight.read", "/app/insight", "主动发现", "热点问题、激增预警与未诉先办、答复质量"),
    ("policies.explain", "/app/ask", "智能咨询", "问政策：引用文件、文号与条款作答"),
    ("review.decide", "/app/review", "智能快审", "申请审核：逐条看共享数据与来源，批准或不予批准"),
)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never `//elsewhere` or `https://elsewhere` (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


@router.get("/")
def home(request: Request, user: Anyone) -> Response:
    staff = bool(user.roles & STAFF_ROLES)
    tiles = [
        {"href": href, "title": title, "text": text}
        for perm, href, title, text in TILES
        if user.can(perm)
    ]
    return render(request, "home.html", user=user, staff=staff, tiles=tiles)


@router.get("/login")
def login_page(
    request: Request, user: Anyone, next: str = "/", reason: str | None = None
) -> Response:
    if user.authenticated:
        return redirect(_safe_next(next))
    return render(
        request, "login.html", user=user, next=_safe_next(next), reason=(reason or "")[:200]
    )


@router.post("/login")
async def login(request: Request, user: Anyone) -> Response:
    await check_public_form(request)
    form = Form.of(await request.form(), max_length=200)
    target = _safe_next(form.get("next"))
    username, password = form.get("username"), form.values.get("password", "")
    if not username:
        form.refuse("username", "请输入用户名")
    if not password:
        form.refuse("password", "请输入密码")
    if form.ok:
        address = request.client.host if request.client else "unknown"
        try:
            signed = await run_in_threadpool(  # Argon2 takes tens of ms: not on the event loop
                request.app.state.access.sign_in, username or "", password, address
            )
        except ZhixiangError as exc:
            status = exc.status
            form.refuse_error(exc, ("password",))
        else:
            response = redirect(target)
            response.set_cookie(
                SESSION_COOKIE,
                signed.token,
                expires=signed.expires_at.replace(tzinfo=UTC),
                httponly=True,
                samesite="lax",
                secure=secure_cookies(request),
            )
            return response
    else:
        status = 422
    form.values.pop("password", None)
    return render(request, "login.html", status, user=user, form=form, next=target)


@router.post("/logout")
def logout(request: Request, user: Anyone) -> Response:
    """Ends the session for good (the cookie never works again), then back to the front door."""
    request.app.state.access.sign_out(request.cookies.get(SESSION_COOKIE))
    response = redirect("/login?reason=" + quote("您已退出登录"))
    response.delete_cookie(SESSION_COOKIE)
    return response
