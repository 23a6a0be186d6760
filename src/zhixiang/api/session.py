"""Browser sessions: sign in, see who is signed in (and the CSRF token), change one's password, sign out.

Thin: `zhixiang.access` checks the password, throttles guessing and keeps the sessions; this router
only moves the session token into an HttpOnly cookie and back out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from zhixiang.access import Principal, PrincipalKind
from zhixiang.api._auth import (
    SESSION_COOKIE,
    access_store,
    end_session,
    public,
    start_session,
)
from zhixiang.errors import Unauthenticated

router = APIRouter(prefix="/session", tags=["登录与会话"])
Caller = Annotated[Principal, public()]


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64, description="用户名")
    password: str = Field(min_length=1, max_length=1024, description="密码")


class NewPassword(BaseModel):
    old_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class SessionView(BaseModel):
    """Who the caller is; `csrf_token` must accompany every write made with the session cookie."""

    authenticated: bool
    actor: str
    name: str
    roles: list[str]
    department: str | None = None
    subject: str | None = None
    csrf_token: str | None = None
    expires_at: datetime | None = None


def _view(
    caller: Principal, csrf: str | None = None, expires: datetime | None = None
) -> SessionView:
    return SessionView(
        authenticated=caller.authenticated,
        actor=caller.actor,
        name=caller.name,
        roles=sorted(caller.roles),
        department=caller.department,
        subject=caller.subject,
        csrf_token=csrf,
        expires_at=expires,
    )


def _secure(request: Request) -> bool:
    return bool(request.app.state.settings.cookie_secure)


@router.post("")
def sign_in(
    body: Credentials,
    request: Request,
    response: Response,
    caller: Annotated[Principal, public(identify=False)],
) -> SessionView:
    """登录：用户名与密码正确则发放会话 Cookie（HttpOnly）并返回 CSRF 令牌；失败过多会暂停登录。"""
    address = request.client.host if request.client else "unknown"
    signed = access_store(request).sign_in(body.username, body.password, address)
    start_session(response, signed, secure=_secure(request))
    return _view(signed.principal, signed.csrf_token, signed.expires_at)


@router.get("")
def who_am_i(request: Request, caller: Caller) -> SessionView:
    """当前调用者；用会话登录时附带写操作所需的 CSRF 令牌。"""
    return _view(caller, getattr(request.state, "csrf_token", None))


@router.post("/password", status_code=204)
def change_password(body: NewPassword, request: Request, caller: Caller) -> Response:
    """修改本人密码（须提供原密码）；本账号的所有会话随即结束，请重新登录。"""
    if caller.kind is not PrincipalKind.USER:
        raise Unauthenticated("请先用账号登录再修改密码", "session")
    access_store(request).set_password(caller, caller.id, body.new_password, body.old_password)
    response = Response(status_code=204)
    end_session(response, secure=_secure(request))
    return response


@router.delete("", status_code=204)
def sign_out(request: Request, caller: Caller) -> Response:
    """退出登录：会话立即失效，同一 Cookie 不能再用。"""
    access_store(request).sign_out(request.cookies.get(SESSION_COOKIE))
    response = Response(status_code=204)
    end_session(response, secure=_secure(request))
    return response
