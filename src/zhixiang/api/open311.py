"""Open311 GeoReport v2 routes under /open311/v2, JSON and XML; the channel module does the rest.

Reads are public (and show only public views); `POST requests` needs a key with `tickets.intake`,
given where the specification puts it (`api_key` in the form, or the query string) or in `X-API-Key`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute

from zhixiang.access import Principal
from zhixiang.api._auth import authenticate, public
from zhixiang.errors import ZhixiangError
from zhixiang.tickets import NotFound, TicketStore
from zhixiang.tickets.channels import open311
from zhixiang.tickets.channels.open311 import Open311Error

SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-01T00:00:00+08:00"


class _Open311Route(APIRoute):
    """Errors in the Open311 shape: `[{"code": 400, "description": ...}]` with that HTTP status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            fmt = request.path_params.get("fmt", "json")
            fmt = fmt if fmt == "xml" else "json"
            try:
                return await handler(request)
            except Open311Error as exc:
                return _render(
                    fmt, "errors", open311.errors(exc.status, exc.description), exc.status
                )
            except ZhixiangError as exc:
                err = Open311Error.of(exc)
                return _render(
                    fmt, "errors", open311.errors(err.status, err.description), err.status
                )

        return route


router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"], route_class=_Open311Route)


def _render(fmt: str, root: str, payload: Any, status: int = 200) -> Response:
    body, media_type = open311.render(fmt, root, payload)
    return Response(body, status, media_type=media_type)


def _store(request: Request) -> TicketStore:
    return request.app.state.tickets


async def _posted(request: Request) -> tuple[dict[str, str], list[Any]]:
    cached = getattr(request.state, "open311_post", None)
    if cached is None:
        body = await request.body()
        cached = open311.parse_body(request.headers.get("content-type", ""), body)
        request.state.open311_post = cached
    return cached


async def _intake_caller(request: Request) -> Principal:
    """The caller of a POST: `api_key` from the form or query string, else the usual credentials."""
    params, _ = await _posted(request)
    key = params.get("api_key") or request.query_params.get("api_key")
    try:
        principal = (
            request.app.state.access.authenticate_key(key) if key else await authenticate(request)
        )
    except ZhixiangError as exc:
        raise Open311Error(403, f"api_key: {exc.message}") from None
    if not principal.authenticated:
        raise Open311Error(403, "api_key: 需要 API 密钥（表单或查询参数 api_key）")
    principal.require("tickets.intake")
    return principal


_intake_caller.zx_permission = "tickets.intake"  # type: ignore[attr-defined]
Public = Annotated[Principal, public()]


@router.get("/discovery.{fmt}")
def discovery(fmt: str, request: Request, _: Public) -> Response:
    open311.check_format(fmt)
    base = str(request.base_url).rstrip("/") + router.prefix + "/"
    return _render(
        fmt,
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": "12345 热线中心",
            "key_service": "API 密钥由系统管理员用 `zhixiang access keys create --role channel` 签发",
            "endpoints": [
                {
                    "specification": SPEC,
                    "url": base,
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        },
    )


@router.get("/services.{fmt}")
def services(fmt: str, request: Request, _: Public) -> Response:
    open311.check_format(fmt)
    rules = _store(request).rules
    open311.check_jurisdiction(rules, request.query_params)
    return _render(fmt, "services", open311.services(rules))


@router.get("/services/{service_code}.{fmt}")
def service_definition(service_code: str, fmt: str, request: Request, _: Public) -> Response:
    open311.check_format(fmt)
    rules = _store(request).rules
    open311.check_jurisdiction(rules, request.query_params)
    open311.category_of(rules, service_code)
    definition = {"service_code": service_code, "attributes": open311.attributes(rules)}
    return _render(fmt, "service_definition", definition)


@router.post("/requests.{fmt}")
async def create_request(
    fmt: str,
    request: Request,
    caller: Annotated[Principal, Depends(_intake_caller)],
) -> Response:
    """POST Service Request; a retried POST with the same Idempotency-Key returns the same request."""
    open311.check_format(fmt)
    store = _store(request)
    params, media = await _posted(request)
    draft = open311.draft(store.rules, params)
    result = await store.intake_async(caller, draft, request.headers.get("idempotency-key"), media)
    receipt = [open311.receipt(result, params)]
    return _render(fmt, "service_requests", receipt, 201 if result.created else 200)


@router.get("/tokens/{token}.{fmt}")
def token(token: str, fmt: str, request: Request, _: Public) -> Response:
    open311.check_format(fmt)
    ticket = _store(request).by_token(token)
    return _render(
        fmt, "service_requests", [{"service_request_id": str(ticket.id), "token": token}]
    )


@router.get("/requests.{fmt}")
def list_requests(fmt: str, request: Request, _: Public) -> Response:
    """GET Service Requests: by ids, or by service, status and dates (default: last 90 days)."""
    open311.check_format(fmt)
    store = _store(request)
    params = request.query_params
    if params.get("service_request_id"):
        open311.check_jurisdiction(store.rules, params)
        found = []
        for i in open311.request_ids(params["service_request_id"]):
            try:
                found.append(store.public_get(i))
            except NotFound:
                continue
    else:
        filters = open311.list_filters(store.rules, params, datetime.now(UTC))
        found = store.public_search(filters)
    listed = [open311.public_request(t, store.rules) for t in found]
    return _render(fmt, "service_requests", listed)


@router.get("/requests/{request_id}.{fmt}")
def get_request(request_id: str, fmt: str, request: Request, _: Public) -> Response:
    open311.check_format(fmt)
    store = _store(request)
    ticket = store.public_get(open311.request_id(request_id))
    return _render(fmt, "service_requests", [open311.public_request(ticket, store.rules)])
