"""The web application: `create_app()` builds one FastAPI app on which every capability hangs its routes."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY

from zhixiang import __version__
from zhixiang.access import Principal, open_access
from zhixiang.api import (
    data,
    grants,
    insight,
    knowledge,
    open311,
    policies,
    residents,
    review,
    session,
    tickets,
)
from zhixiang.api._auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    KEY_HEADER,
    PUBLIC,
    SESSION_COOKIE,
    authenticate,
    end_session,
    public,
    requires,
    start_session,
)
from zhixiang.api._docs import add_docs
from zhixiang.api._limits import BodyLimit, RouteLimit, redact_access_log, too_large_message
from zhixiang.api._serve import ServerStopped, serve
from zhixiang.config import Settings, load_settings
from zhixiang.datahub import AccessDenied, ExtractError, GrantError, MappingError, redact_text
from zhixiang.errors import RetryLater, ZhixiangError
from zhixiang.tickets import TicketStore, open_store
from zhixiang.tickets.channels import open311 as open311_channel


async def _unprocessable(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, 422)


def _reply_scorer():  # type: ignore[no-untyped-def]
    """答复质量 for every 办结 (zhixiang.insight; tickets, a lower layer, cannot import it)."""
    from zhixiang.insight import ReplyScorer

    return ReplyScorer()


def _answer_too_large_in_chinese(app: FastAPI) -> None:
    """Starlette refuses a streamed body past the limit with "Content Too Large": say it in the
    interface's language, with the limit, through whichever handler (API or page) is in place."""
    previous: Any = app.exception_handlers.get(StarletteHTTPException, http_exception_handler)

    async def http_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StarletteHTTPException) and exc.status_code == 413:
            limit = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)
            exc = StarletteHTTPException(413, too_large_message(limit) if limit else "请求体过大")
        response: Response = await previous(request, exc)
        return response

    app.add_exception_handler(StarletteHTTPException, http_error)


def create_app(
    settings: Settings | None = None, *, ticket_store: TicketStore | None = None
) -> FastAPI:
    """Build the application; routers hold no business logic, they call each capability's public face.

    Resources are opened here, once: the access store and the ticket store (pass `ticket_store` to
    use one already open, e.g. with a reply scorer injected).
    """
    settings = settings or load_settings()
    app = FastAPI(title="智享 Zhixiang", version=__version__, docs_url=None, redoc_url=None)
    app.state.settings = settings

    app.state.access = open_access(settings.access_db)
    app.state.tickets = ticket_store or open_store(
        settings.tickets_url, settings=settings, reply_scorer=_reply_scorer()
    )

    # A refusal (bad key, wrong department, bad input, busy resource) is its precise status, never a 500.
    @app.exception_handler(ZhixiangError)
    async def refused(_: Request, exc: ZhixiangError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RetryLater) else None
        return JSONResponse({"detail": exc.message, "field": exc.field}, exc.status, headers)

    @app.exception_handler(AccessDenied)
    async def denied(_: Request, exc: AccessDenied) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, 403)

    for invalid in (GrantError, MappingError, ExtractError):
        app.add_exception_handler(invalid, _unprocessable)

    # Routes are matched in order, one by one: the health check, which monitors call often, first
    # (behind ~150 routes it cost 1.6 ms of CPU a call), then intake's router.
    @app.get("/health", tags=["system"])
    def health(caller: Annotated[Principal, public()]) -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    app.include_router(tickets.router)
    app.include_router(open311.router)
    app.include_router(data.router)
    app.include_router(policies.router)
    app.include_router(knowledge.router)
    app.include_router(insight.router)
    app.include_router(session.router)
    app.include_router(grants.router)
    app.include_router(review.router)
    app.include_router(residents.router)
    add_docs(app)

    from zhixiang.web import mount

    mount(app)  # the pages: server-rendered, on this same app (zhixiang.web)

    # Every body is limited (Settings.max_body_bytes); routes that take files have their own limit.
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        routes=[
            RouteLimit(
                "POST", re.compile(r"/open311/v2/requests\.\w+"), open311_channel.MAX_REQUEST_BYTES
            ),
            RouteLimit(
                "POST", re.compile(r"/bianmin/report"), settings.photo_max_bytes + 1_000_000
            ),
        ],
        pages=re.compile(r"/(app|qiye|bianmin|login|logout)(/.*)?"),
    )
    _answer_too_large_in_chinese(app)
    redact_access_log(redact_text)  # 身份证号 in `?key=` never reach the server's access log
    return app


__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "KEY_HEADER",
    "PUBLIC",
    "SESSION_COOKIE",
    "ServerStopped",
    "authenticate",
    "create_app",
    "end_session",
    "public",
    "requires",
    "serve",
    "start_session",
]
