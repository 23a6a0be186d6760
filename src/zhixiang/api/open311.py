"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) over the same tickets, JSON and XML.

Services are the 一级分类 plus `12345` (综合诉求: the model classifies it). Extra fields travel as the
service definition's attributes (priority, region_code, grid_id, title, confidential).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError

from zhixiang.api.tickets import get_store
from zhixiang.tickets import (
    STATUS_LABELS,
    NotFound,
    SearchFilters,
    Status,
    TicketDraft,
    TicketsError,
    TicketStore,
    TicketView,
)
from zhixiang.tickets._deadlines import CST

GENERAL_SERVICE = "12345"
CLOSED = {Status.RESOLVED, Status.FOLLOWED_UP, Status.ARCHIVED}
MAX_BODY = 1_000_000
_ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


class _Open311Route(APIRoute):
    """Errors in the Open311 shape: `[{"code": 400, "description": ...}]` with that HTTP status."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            fmt = request.path_params.get("fmt", "json")
            try:
                return await handler(request)
            except Open311Error as exc:
                return _errors(fmt, exc.status, exc.description)
            except TicketsError as exc:
                status = {401: 403, 422: 400, 409: 400}.get(exc.status, exc.status)
                where = f"{exc.field}: " if exc.field else ""
                return _errors(fmt, status, where + exc.message)

        return route


router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"], route_class=_Open311Route)


def _errors(fmt: str, status: int, description: str) -> Response:
    return _render(
        fmt if fmt == "xml" else "json",
        "errors",
        [{"code": status, "description": description}],
        status,
    )


def _render(fmt: str, root: str, payload: Any, status: int = 200) -> Response:
    if fmt == "json":
        return Response(
            json.dumps(payload, ensure_ascii=False), status, media_type="application/json"
        )
    if fmt != "xml":
        return _errors("json", 400, f"不支持的格式 {fmt!r}：应为 json 或 xml")
    element = ET.Element(root)
    _fill(element, root, payload)
    body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(element, encoding="utf-8")
    return Response(body, status, media_type="text/xml; charset=utf-8")


def _fill(element: ET.Element, tag: str, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, _ITEM_TAGS.get(tag, "item")), tag, item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), key, item)
    elif value is not None:
        element.text = str(value).lower() if isinstance(value, bool) else str(value)


def _check_format(fmt: str) -> None:
    if fmt not in ("json", "xml"):
        raise Open311Error(400, f"不支持的格式 {fmt!r}：应为 json 或 xml")


def _services(store: TicketStore) -> list[dict[str, Any]]:
    general = {
        "service_code": GENERAL_SERVICE,
        "service_name": "综合诉求（智能分拨）",
        "description": "不确定类别时选择：系统自动分类并派至承办部门",
        "metadata": True,
        "type": "realtime",
        "keywords": "12345,接诉即办",
        "group": "12345",
    }
    return [general] + [
        {
            "service_code": c.code,
            "service_name": c.name,
            "description": f"{c.name}类诉求",
            "metadata": True,
            "type": "realtime",
            "keywords": c.name,
            "group": "12345",
        }
        for c in store.rules.categories
    ]


def _attributes(store: TicketStore) -> list[dict[str, Any]]:
    def attr(
        code: str, datatype: str, order: int, description: str, values: Any = None
    ) -> dict[str, Any]:
        return {
            "variable": True,
            "code": code,
            "datatype": datatype,
            "required": False,
            "datatype_description": None,
            "order": order,
            "description": description,
            **({"values": values} if values else {}),
        }

    priorities = [{"key": k, "name": p.label} for k, p in store.rules.priorities.items()]
    flags = [{"key": "false", "name": "否"}, {"key": "true", "name": "是"}]
    return [
        attr("title", "string", 1, "诉求标题（不填取描述前30字）"),
        attr("priority", "singlevaluelist", 2, "时限类型", priorities),
        attr("region_code", "string", 3, "行政区划代码（6/9/12位）"),
        attr("grid_id", "string", 4, "网格编号"),
        attr("confidential", "singlevaluelist", 5, "是否要求保密", flags),
    ]


def _category(store: TicketStore, service_code: str) -> str | None:
    if service_code == GENERAL_SERVICE:
        return None
    if service_code not in store.rules.category_codes:
        raise Open311Error(404, f"service_code {service_code!r} 不存在")
    return store.rules.category_codes[service_code].name


def _check_jurisdiction(store: TicketStore, params: dict[str, str]) -> None:
    given = params.get("jurisdiction_id")
    if given not in (None, "", store.rules.city.code):
        raise Open311Error(
            404, f"jurisdiction_id {given!r} 不存在（本系统为 {store.rules.city.code}）"
        )


def _local(moment: datetime | None) -> str | None:
    return (
        moment.replace(tzinfo=UTC).astimezone(CST).isoformat(timespec="seconds") if moment else None
    )


def _request(ticket: TicketView, store: TicketStore) -> dict[str, Any]:
    """A ticket in the public Open311 shape: never the reporter; text hidden if confidential."""
    code = store.rules.category_names[ticket.category].code if ticket.category else GENERAL_SERVICE
    notes = STATUS_LABELS[ticket.status]
    if ticket.reply and not ticket.confidential:
        notes += f"：{ticket.reply}"
    return {
        "service_request_id": str(ticket.id),
        "status": "closed" if ticket.status in CLOSED else "open",
        "status_notes": notes,
        "service_name": ticket.category or "综合诉求",
        "service_code": code,
        "description": "（诉求人要求保密）" if ticket.confidential else ticket.body,
        "agency_responsible": ticket.department_name,
        "service_notice": None,
        "requested_datetime": _local(ticket.created_at),
        "updated_datetime": _local(ticket.updated_at),
        "expected_datetime": _local(ticket.due_at),
        "address": None if ticket.confidential else ticket.address,
        "address_id": ticket.region_code,
        "zipcode": None,
        "lat": ticket.lat,
        "long": ticket.lon,
        "media_url": None,
    }


@router.get("/discovery.{fmt}")
def discovery(fmt: str, request: Request) -> Response:
    _check_format(fmt)
    base = str(request.base_url).rstrip("/") + router.prefix + "/"
    return _render(
        fmt,
        "discovery",
        {
            "changeset": "2026-11-25T00:00:00+08:00",
            "contact": "12345 热线中心",
            "key_service": "API 密钥由热线中心管理员用 `zhixiang tickets keys create` 签发",
            "endpoints": [
                {
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": base,
                    "changeset": "2026-11-25T00:00:00+08:00",
                    "type": "production",
                    "formats": ["application/json", "text/xml"],
                }
            ],
        },
    )


@router.get("/services.{fmt}")
def services(fmt: str, request: Request) -> Response:
    _check_format(fmt)
    store = get_store(request)
    _check_jurisdiction(store, dict(request.query_params))
    return _render(fmt, "services", _services(store))


@router.get("/services/{service_code}.{fmt}")
def service_definition(service_code: str, fmt: str, request: Request) -> Response:
    _check_format(fmt)
    store = get_store(request)
    _check_jurisdiction(store, dict(request.query_params))
    _category(store, service_code)
    return _render(
        fmt,
        "service_definition",
        {"service_code": service_code, "attributes": _attributes(store)},
    )


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Open311Error(413, f"请求体过大：上限 {MAX_BODY} 字节")
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ValueError("JSON 请求体应为对象")
            return {str(k): "" if v is None else str(v) for k, v in data.items()}
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Open311Error(400, f"无法解析请求体：{exc}") from None


def _draft(store: TicketStore, params: dict[str, str]) -> TicketDraft:
    """Map GeoReport v2 parameters onto a ticket draft, refusing what the service did not define."""
    service_code = params.get("service_code")
    if not service_code:
        raise Open311Error(400, "缺少必填参数 service_code")
    category = _category(store, service_code)
    description = params.get("description", "").strip()
    if not description:
        raise Open311Error(400, "缺少必填参数 description（诉求内容）")
    has_point = bool(params.get("lat")) and bool(params.get("long"))
    if not has_point and (params.get("lat") or params.get("long")):
        raise Open311Error(400, "lat 与 long 须同时给出")
    if not (has_point or params.get("address_string") or params.get("address_id")):
        raise Open311Error(400, "须给出位置：lat 与 long、address_string 或 address_id 之一")
    defined = {a["code"]: a for a in _attributes(store)}
    attributes: dict[str, str] = {}
    for key, value in params.items():
        if key.startswith("attribute["):
            code = key[len("attribute[") : -1] if key.endswith("]") else ""
            if code not in defined:
                raise Open311Error(400, f"{key}: 服务 {service_code} 未定义此属性")
            allowed = [v["key"] for v in defined[code].get("values", [])]
            if allowed and value not in allowed:
                raise Open311Error(400, f"{key}: 取值 {value!r} 无效（可选：{'、'.join(allowed)}）")
            attributes[code] = value
    name = " ".join(p for p in (params.get("last_name"), params.get("first_name")) if p) or None
    try:
        return TicketDraft(
            title=attributes.get("title") or description[:30],
            body=description,
            channel="open311",
            reporter_name=name,
            reporter_contact=params.get("phone") or params.get("email") or None,
            confidential=attributes.get("confidential") == "true",
            address=params.get("address_string") or None,
            region_code=attributes.get("region_code") or params.get("address_id") or None,
            grid_id=attributes.get("grid_id") or None,
            lat=float(params["lat"]) if has_point else None,
            lon=float(params["long"]) if has_point else None,
            category=category,
            priority=attributes.get("priority") or None,
        )
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise Open311Error(400, problems) from None
        raise Open311Error(400, f"lat/long 应为数字：{exc}") from None


@router.post("/requests.{fmt}")
async def create_request(fmt: str, request: Request) -> Response:
    """POST Service Request; a retried POST with the same Idempotency-Key returns the same request."""
    _check_format(fmt)
    store = get_store(request)
    params = await _form(request)
    _check_jurisdiction(store, params)
    try:
        caller = store.authenticate(params.get("api_key") or request.headers.get("x-api-key"))
    except TicketsError as exc:
        raise Open311Error(403, f"api_key: {exc.message}") from None
    draft = _draft(store, params)
    result = store.intake(caller, draft, request.headers.get("idempotency-key"))
    notice = (
        "已受理并派至 " + result.ticket.department_name
        if result.auto_dispatched
        else "已受理，等待派单"
    )
    reply = {
        "service_request_id": str(result.ticket.id),
        "token": result.ticket.token,
        "service_notice": notice,
        "account_id": params.get("account_id") or None,
    }
    return _render(fmt, "service_requests", [reply], 201 if result.created else 200)


@router.get("/tokens/{token}.{fmt}")
def token(token: str, fmt: str, request: Request) -> Response:
    _check_format(fmt)
    ticket = get_store(request).by_token(token)
    return _render(
        fmt, "service_requests", [{"service_request_id": str(ticket.id), "token": token}]
    )


def _when(params: dict[str, str], key: str) -> datetime | None:
    value = params.get(key)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Open311Error(400, f"{key} 应为 ISO 8601 时间，如 2026-11-25T09:00:00+08:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CST)


def _ids(value: str) -> list[int]:
    try:
        ids = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise Open311Error(400, f"service_request_id 应为逗号分隔的编号：{value!r}") from None
    if not all(1 <= i <= 2**31 - 1 for i in ids):
        raise Open311Error(400, "service_request_id 超出范围")
    return ids


@router.get("/requests.{fmt}")
def list_requests(fmt: str, request: Request) -> Response:
    """GET Service Requests: by ids, or by service, status and dates (default: last 90 days)."""
    _check_format(fmt)
    store = get_store(request)
    params = dict(request.query_params)
    _check_jurisdiction(store, params)
    if params.get("service_request_id"):
        found = []
        for i in _ids(params["service_request_id"]):
            try:
                found.append(store.get(None, i, history=False))
            except NotFound:
                continue
        return _render(fmt, "service_requests", [_request(t, store) for t in found])
    end = _when(params, "end_date") or datetime.now(UTC)
    start = _when(params, "start_date") or end - timedelta(days=90)
    statuses = {s for s in params.get("status", "open,closed").split(",") if s}
    if not statuses <= {"open", "closed"}:
        raise Open311Error(400, "status 应为 open、closed 或二者以逗号分隔")
    code = params.get("service_code")
    category = _category(store, code) if code else None
    try:
        tickets = store.search(
            None, SearchFilters(category=category, since=start, until=end, limit=500)
        )
    except ValidationError as exc:
        raise Open311Error(400, str(exc)) from None
    if code == GENERAL_SERVICE:
        tickets = [t for t in tickets if t.category is None]
    wanted = [t for t in tickets if ("closed" if t.status in CLOSED else "open") in statuses]
    return _render(fmt, "service_requests", [_request(t, store) for t in wanted])


@router.get("/requests/{request_id}.{fmt}")
def get_request(request_id: str, fmt: str, request: Request) -> Response:
    _check_format(fmt)
    store = get_store(request)
    ids = _ids(request_id)
    if len(ids) != 1:
        raise Open311Error(400, f"service_request_id 应为一个编号：{request_id!r}")
    ticket_id = ids[0]
    return _render(
        fmt, "service_requests", [_request(store.get(None, ticket_id, history=False), store)]
    )
