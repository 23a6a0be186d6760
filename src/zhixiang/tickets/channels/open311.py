"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) as a channel: its bodies, its fields,
its statuses and its errors mapped onto the one ticket model. No HTTP here: `api/open311.py` routes.

Services are the 一级分类 plus `12345` (综合诉求: the model classifies it). Extra fields travel as the
service definition's attributes (title, priority, region_code, grid_id, confidential). A POST may be
form-encoded (in any declared charset), multipart/form-data with a photo in `media`, or JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree as ET

from pydantic import ValidationError

from zhixiang.errors import ZhixiangError
from zhixiang.tickets._deadlines import CST
from zhixiang.tickets._intake import MAX_MEDIA, MAX_MEDIA_BYTES, Attachment
from zhixiang.tickets._model import IntakeResult, SearchFilters, TicketDraft
from zhixiang.tickets._privacy import PublicTicket
from zhixiang.tickets._rules import RequestRules

GENERAL_SERVICE = "12345"
#: A whole POST, photos included; text fields alone are far smaller.
MAX_REQUEST_BYTES = MAX_MEDIA * MAX_MEDIA_BYTES + 256 * 1024
#: Media accepted, recognised by their first bytes (the declared type is not trusted).
MEDIA_TYPES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
MAX_RESULTS = 1000  # GeoReport v2: at most 1,000 requests per list
DEFAULT_DAYS = 90  # GeoReport v2: without dates, the last 90 days
_ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}
_STATUS_FOR = {401: 403, 422: 400, 409: 400}


class Open311Error(Exception):
    """A refusal in Open311's shape: the HTTP status and a description."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description

    @classmethod
    def of(cls, exc: ZhixiangError) -> Open311Error:
        """The platform's refusal as Open311 states it (bad keys are 403, invalid input 400)."""
        where = f"{exc.field}: " if exc.field else ""
        return cls(_STATUS_FOR.get(exc.status, exc.status), where + exc.message)


# -- formats -------------------------------------------------------------------------------------


def check_format(fmt: str) -> None:
    if fmt not in ("json", "xml"):
        raise Open311Error(400, f"不支持的格式 {fmt!r}：应为 json 或 xml")


def render(fmt: str, root: str, payload: Any) -> tuple[bytes, str]:
    """The body and media type of `payload` in JSON or in GeoReport's XML."""
    if fmt != "xml":
        return json.dumps(payload, ensure_ascii=False).encode(), "application/json"
    element = ET.Element(root)
    _fill(element, root, payload)
    body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(element, encoding="utf-8")
    return body, "text/xml; charset=utf-8"


def errors(status: int, description: str) -> list[dict[str, Any]]:
    return [{"code": status, "description": description}]


def _fill(element: ET.Element, tag: str, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, _ITEM_TAGS.get(tag, "item")), tag, item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), key, item)
    elif value is not None:
        element.text = str(value).lower() if isinstance(value, bool) else str(value)


# -- bodies --------------------------------------------------------------------------------------


def _charset(content_type: str) -> str:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"').strip()
    return "utf-8"


def _decoder(charset: str) -> str:
    import codecs

    try:
        return codecs.lookup(charset).name
    except LookupError:
        raise Open311Error(400, f"不支持的字符集 {charset!r}（请用 UTF-8 或 GBK）") from None


def parse_body(content_type: str, body: bytes) -> tuple[dict[str, str], list[Attachment]]:
    """The POST's fields and attached media, decoded by the charset the client declared.

    Text that does not decode in that charset is refused (400), never stored garbled.
    """
    if len(body) > MAX_REQUEST_BYTES:
        raise Open311Error(413, f"请求体过大：上限 {MAX_REQUEST_BYTES // 1024 // 1024} MB")
    kind = content_type.split(";")[0].strip().lower()
    charset = _decoder(_charset(content_type))
    try:
        if kind == "application/json":
            data = json.loads(body.decode(charset) if body else "{}")
            if not isinstance(data, dict):
                raise Open311Error(400, "无法解析请求体：JSON 请求体应为对象")
            return {str(k): "" if v is None else str(v) for k, v in data.items()}, []
        if kind == "multipart/form-data":
            return _multipart(content_type, body, charset)
        if kind not in ("", "application/x-www-form-urlencoded"):
            raise Open311Error(
                400,
                f"不支持的请求体类型 {kind!r}：应为 application/x-www-form-urlencoded、"
                "multipart/form-data 或 application/json",
            )
        text = body.decode(charset)
        pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
        return dict(pairs), []
    except UnicodeDecodeError as exc:
        raise Open311Error(
            400, f"请求体不是有效的 {charset} 文本（第 {exc.start} 字节）：请声明正确的 charset"
        ) from None
    except ValueError as exc:
        raise Open311Error(400, f"无法解析请求体：{exc}") from None


def _multipart(
    content_type: str, body: bytes, charset: str
) -> tuple[dict[str, str], list[Attachment]]:
    from python_multipart import create_form_parser

    raw: dict[str, bytes] = {}
    media: list[Attachment] = []
    problems: list[str] = []

    def on_field(field: Any) -> None:
        raw[field.field_name.decode("latin-1")] = field.value or b""

    def on_file(file: Any) -> None:
        name = (file.field_name or b"").decode("latin-1")
        file.file_object.seek(0)
        data = file.file_object.read()
        if name != "media":
            problems.append(f"未知的文件字段 {name!r}（照片请用 media）")
        elif len(data) > MAX_MEDIA_BYTES:
            problems.append(f"media 超过 {MAX_MEDIA_BYTES // 1024 // 1024} MB")
        elif data:
            kind = next((t for magic, t in MEDIA_TYPES.items() if data.startswith(magic)), None)
            if kind is None:
                problems.append("media 应为 JPEG、PNG 或 GIF 图片")
            else:
                filename = (file.file_name or b"").decode("utf-8", "replace")[:200] or None
                media.append(Attachment(filename, kind, data))

    headers = {"Content-Type": content_type.encode("latin-1", "replace")}
    try:
        parser = create_form_parser(
            headers, on_field, on_file, config={"MAX_MEMORY_FILE_SIZE": MAX_REQUEST_BYTES}
        )
        parser.write(body)
        parser.finalize()
    except Exception as exc:  # python-multipart raises its own error types for broken bodies
        raise Open311Error(400, f"无法解析 multipart 请求体：{exc}") from None
    if problems:
        raise Open311Error(400, "；".join(problems))
    if len(media) > MAX_MEDIA:
        raise Open311Error(400, f"media 最多 {MAX_MEDIA} 个")
    charset = _decoder(raw.pop("_charset_", b"").decode("ascii", "replace") or charset)
    fields = {name: value.decode(charset) for name, value in raw.items()}
    return fields, media


# -- services ------------------------------------------------------------------------------------


def services(rules: RequestRules) -> list[dict[str, Any]]:
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
        for c in rules.categories
    ]


def attributes(rules: RequestRules) -> list[dict[str, Any]]:
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

    priorities = [{"key": k, "name": p.label} for k, p in rules.priorities.items()]
    flags = [{"key": "false", "name": "否"}, {"key": "true", "name": "是"}]
    return [
        attr("title", "string", 1, "诉求标题（不填取描述前30字）"),
        attr("priority", "singlevaluelist", 2, "时限类型", priorities),
        attr("region_code", "string", 3, "行政区划代码（6/9/12位）"),
        attr("grid_id", "string", 4, "网格编号"),
        attr("confidential", "singlevaluelist", 5, "是否要求保密", flags),
    ]


def category_of(rules: RequestRules, service_code: str) -> str | None:
    """The 一级分类 of a service code; `12345` has none (the model decides)."""
    if service_code == GENERAL_SERVICE:
        return None
    if service_code not in rules.category_codes:
        raise Open311Error(404, f"service_code {service_code!r} 不存在")
    return rules.category_codes[service_code].name


def check_jurisdiction(rules: RequestRules, params: Mapping[str, str]) -> None:
    given = params.get("jurisdiction_id")
    if given not in (None, "", rules.city.code):
        raise Open311Error(404, f"jurisdiction_id {given!r} 不存在（本系统为 {rules.city.code}）")


# -- POST requests -------------------------------------------------------------------------------


def draft(rules: RequestRules, params: Mapping[str, str]) -> TicketDraft:
    """Map GeoReport v2 parameters onto a ticket draft, refusing what the service did not define."""
    check_jurisdiction(rules, params)
    service_code = params.get("service_code")
    if not service_code:
        raise Open311Error(400, "缺少必填参数 service_code")
    category = category_of(rules, service_code)
    description = params.get("description", "").strip()
    if not description:
        raise Open311Error(400, "缺少必填参数 description（诉求内容）")
    has_point = bool(params.get("lat")) and bool(params.get("long"))
    if not has_point and (params.get("lat") or params.get("long")):
        raise Open311Error(400, "lat 与 long 须同时给出")
    if not (has_point or params.get("address_string") or params.get("address_id")):
        raise Open311Error(400, "须给出位置：lat 与 long、address_string 或 address_id 之一")
    defined = {a["code"]: a for a in attributes(rules)}
    given: dict[str, str] = {}
    for key, value in params.items():
        if key.startswith("attribute["):
            code = key[len("attribute[") : -1] if key.endswith("]") else ""
            if code not in defined:
                raise Open311Error(400, f"{key}: 服务 {service_code} 未定义此属性")
            allowed = [v["key"] for v in defined[code].get("values", [])]
            if allowed and value not in allowed:
                raise Open311Error(400, f"{key}: 取值 {value!r} 无效（可选：{'、'.join(allowed)}）")
            given[code] = value
    name = " ".join(p for p in (params.get("last_name"), params.get("first_name")) if p) or None
    try:
        return TicketDraft(
            title=given.get("title") or description[:30],
            body=description,
            channel="open311",
            reporter_name=name,
            reporter_contact=params.get("phone") or params.get("email") or None,
            confidential=given.get("confidential") == "true",
            address=params.get("address_string") or None,
            region_code=given.get("region_code") or params.get("address_id") or None,
            grid_id=given.get("grid_id") or None,
            lat=float(params["lat"]) if has_point else None,
            lon=float(params["long"]) if has_point else None,
            category=category,
            priority=given.get("priority") or None,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise Open311Error(400, problems) from None
    except ValueError as exc:
        raise Open311Error(400, f"lat/long 应为数字：{exc}") from None


def receipt(result: IntakeResult, params: Mapping[str, str]) -> dict[str, Any]:
    ticket = result.ticket
    notice = (
        f"已受理并派至 {ticket.department_name}" if result.auto_dispatched else "已受理，等待派单"
    )
    return {
        "service_request_id": str(ticket.id),
        "token": ticket.token,
        "service_notice": notice,
        "account_id": params.get("account_id") or None,
    }


# -- GET requests --------------------------------------------------------------------------------


def request_id(value: str) -> int:
    """One service_request_id; anything that is not one existing-shaped id is 404 (no such request)."""
    if not value.isdigit() or not 1 <= int(value) <= 2**31 - 1:
        raise Open311Error(404, f"没有编号为 {value!r} 的诉求")
    return int(value)


def request_ids(value: str) -> list[int]:
    try:
        ids = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise Open311Error(400, f"service_request_id 应为逗号分隔的编号：{value!r}") from None
    if not all(1 <= i <= 2**31 - 1 for i in ids) or len(ids) > MAX_RESULTS:
        raise Open311Error(400, "service_request_id 超出范围")
    return ids


def _when(params: Mapping[str, str], key: str) -> datetime | None:
    value = params.get(key)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=CST)
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Open311Error(400, f"{key} 应为 ISO 8601 时间，如 2026-11-25T09:00:00+08:00") from None
    if not 1900 <= moment.year <= 2200:
        raise Open311Error(400, f"{key} 应在 1900–2200 年之间")
    return moment


def list_filters(rules: RequestRules, params: Mapping[str, str], now: datetime) -> SearchFilters:
    """GET requests' parameters as store filters: service, status and dates all in the query."""
    check_jurisdiction(rules, params)
    end = _when(params, "end_date") or now.replace(tzinfo=UTC)
    start = _when(params, "start_date") or end - timedelta(days=DEFAULT_DAYS)
    statuses = {s.strip() for s in params.get("status", "open,closed").split(",") if s.strip()}
    if not statuses or not statuses <= {"open", "closed"}:
        raise Open311Error(400, "status 应为 open、closed 或二者以逗号分隔")
    code = params.get("service_code")
    category = category_of(rules, code) if code else None
    try:
        return SearchFilters(
            category=category,
            uncategorised=True if code == GENERAL_SERVICE else None,
            state=None if len(statuses) == 2 else statuses.pop(),  # type: ignore[arg-type]
            since=start,
            until=end,
            limit=MAX_RESULTS,
        )
    except ValidationError as exc:
        raise Open311Error(400, "; ".join(str(e["msg"]) for e in exc.errors())) from None


def public_request(ticket: PublicTicket, rules: RequestRules) -> dict[str, Any]:
    """A ticket in the GeoReport v2 shape, from its public view (scrubbed, location withheld if
    confidential, never the reporter)."""
    code = (
        rules.category_names[ticket.category].code
        if ticket.category in rules.category_names
        else GENERAL_SERVICE
    )
    notes = ticket.status_label + (f"：{ticket.reply}" if ticket.reply else "")
    return {
        "service_request_id": str(ticket.id),
        "status": "closed" if ticket.closed else "open",
        "status_notes": notes,
        "service_name": ticket.category or "综合诉求",
        "service_code": code,
        "description": ticket.description,
        "agency_responsible": ticket.department_name,
        "service_notice": None,
        "requested_datetime": _local(ticket.created_at),
        "updated_datetime": _local(ticket.updated_at),
        "expected_datetime": _local(ticket.due_at),
        "address": ticket.address,
        "address_id": ticket.region_code,
        "zipcode": None,
        "lat": ticket.lat,
        "long": ticket.lon,
        "media_url": None,  # citizens' photos may show people: staff see them, the public does not
    }


def _local(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(CST).isoformat(timespec="seconds")
