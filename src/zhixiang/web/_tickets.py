"""工单 pages: intake with a live suggestion, department queues, a ticket's page with its actions.

Each page calls the ticket store (`zhixiang.tickets`) and shows what it answers; the store decides
who may see and do what, and every refusal it makes comes back next to the field it concerns.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import ValidationError

from zhixiang.access import Principal, Role
from zhixiang.api import requires
from zhixiang.errors import Forbidden, InvalidInput, ZhixiangError
from zhixiang.tickets import (
    ACTION_LABELS,
    DISPATCH_CENTER,
    SATISFACTION_LABELS,
    STATUS_LABELS,
    TRANSITIONS,
    Action,
    Command,
    SearchFilters,
    Status,
    TicketDraft,
    TicketView,
)
from zhixiang.web._app import redirect, render
from zhixiang.web._capabilities import department_name, departments, preview, store
from zhixiang.web._export import export
from zhixiang.web._forms import Form
from zhixiang.web._regions import district_options
from zhixiang.web._time import countdown, local

router = APIRouter(prefix="/app", include_in_schema=False)
Reader = Annotated[Principal, requires("tickets.read")]
Intake = Annotated[Principal, requires("tickets.intake")]
Handler = Annotated[Principal, requires("tickets.handle")]
Dispatcher = Annotated[Principal, requires("tickets.dispatch")]
FollowUp = Annotated[Principal, requires("tickets.follow_up")]
TicketId = Annotated[int, Path(ge=1, le=2**31 - 1)]

#: Which permission each group of actions needs; the page shows a group only to its holders.
ACTION_GROUPS: dict[str, tuple[str, tuple[Action, ...]]] = {
    "handle": (
        "tickets.handle",
        (Action.SIGN, Action.START, Action.RETURN, Action.EXTEND, Action.RESOLVE),
    ),
    "dispatch": (
        "tickets.dispatch",
        (Action.DISPATCH, Action.REASSIGN, Action.SUPERVISE, Action.REMIND),
    ),
    "follow-up": ("tickets.follow_up", (Action.FOLLOW_UP, Action.REOPEN, Action.ARCHIVE)),
}
EXPORT_COLUMNS = (
    ("id", "工单编号"),
    ("created_at", "受理时间"),
    ("channel", "渠道"),
    ("title", "标题"),
    ("category", "一级分类"),
    ("department_name", "承办部门"),
    ("status_label", "状态"),
    ("due_at", "办理时限"),
    ("overdue", "超期"),
    ("address", "地点"),
    ("region_code", "行政区划"),
    ("reporter_contact", "联系方式（脱敏）"),
)
PRIORITY_CHOICES = ("general", "complex", "utility", "emergency")


def _allowed_actions(user: Principal, ticket: TicketView) -> list[tuple[str, Action]]:
    """The actions this person may take on this ticket now: state allows it and their role does."""
    allowed = []
    for group, (perm, actions) in ACTION_GROUPS.items():
        if not user.can(perm):
            continue
        if group == "handle" and not user.sees_department(ticket.department):
            continue
        for action in actions:
            if ticket.group_id is not None and TRANSITIONS[action].shared:
                continue
            if ticket.status in TRANSITIONS[action].sources:
                allowed.append((group, action))
    return allowed


def _row(ticket: TicketView) -> dict[str, Any]:
    row = ticket.model_dump()
    row["created_at"] = local(ticket.created_at)
    row["due_at"] = local(ticket.due_at)
    return row


def _filters(request: Request, form: Form) -> SearchFilters | None:
    values: dict[str, str | bool] = {
        k: v for k, v in request.query_params.items() if v and k in SearchFilters.model_fields
    }
    values.pop("limit", None)
    if "overdue" in values:
        values["overdue"] = values["overdue"] == "true"
    try:
        return SearchFilters.model_validate({**values, "limit": 200})
    except ValidationError as exc:
        form.refuse_validation(exc)
        return None


def _options(request: Request) -> dict[str, Any]:
    rules = store(request).rules
    return {
        "categories": [(c, c) for c in rules.category_names],
        "departments": departments(request),
        "statuses": [(s.value, STATUS_LABELS[s]) for s in Status],
        "priorities": [
            (p, rules.priorities[p].label) for p in PRIORITY_CHOICES if p in rules.priorities
        ],
        "districts": district_options(),
    }


@router.get("/tickets")
def ticket_list(request: Request, user: Reader, format: str | None = None) -> Response:
    """Search and filters; a handler sees only their department's tickets (the store holds them)."""
    form = Form(dict(request.query_params))
    filters = _filters(request, form)
    tickets: list[TicketView] = []
    if filters is not None:
        try:
            tickets = store(request).search(user, filters)
        except ZhixiangError as exc:
            form.refuse_error(exc, ("department", "category", "region"))
    if format:
        return export([_row(t) for t in tickets], EXPORT_COLUMNS, "工单", format)
    rows = [(t, countdown(t.due_at, t.overdue)) for t in tickets]
    status = 200 if form.ok else 422
    return render_page(
        request, "tickets/list.html", user, status, form=form, rows=rows, **_options(request)
    )


@router.get("/queues")
def my_queue(request: Request, user: Reader) -> Response:
    """Straight to the queue this person works: their department, or the dispatch centre's."""
    if user.has(Role.HANDLER) and user.department and not user.citywide:
        return redirect(f"/app/queues/{user.department}")
    return redirect(f"/app/queues/{DISPATCH_CENTER}")


@router.get("/queues/{department}")
def queue(request: Request, user: Reader, department: str) -> Response:
    """A department's open work, soonest deadline first, with the time left and overdue in red."""
    tickets = store(request)
    items = tickets.queue(user, department, limit=200)
    rows = [(t, countdown(t.due_at, t.overdue)) for t in items]
    visible = [
        (code, name)
        for code, name in departments(request)
        if user.citywide or code == user.department
    ]
    return render_page(
        request,
        "tickets/queue.html",
        user,
        department=department,
        department_label=department_name(request, department) or department,
        rows=rows,
        queues=visible,
        overdue=sum(1 for t in items if t.overdue),
    )


@router.get("/tickets/new")
def intake_form(request: Request, user: Intake) -> Response:
    return render_page(
        request, "tickets/new.html", user, form=Form({"priority": "general"}), **_options(request)
    )


def _draft(form: Form, channel: str) -> TicketDraft | None:
    region = form.get("street") or form.get("district")
    data = {
        "title": form.values.get("title", ""),
        "body": form.values.get("body", ""),
        "channel": channel,
        "reporter_name": form.get("reporter_name"),
        "reporter_contact": form.get("reporter_contact"),
        "confidential": form.flag("confidential"),
        "address": form.get("address"),
        "region_code": region,
        "category": form.get("category"),
        "priority": form.get("priority"),
    }
    try:
        return TicketDraft.model_validate(data)
    except ValidationError as exc:
        form.refuse_validation(exc)
        if "region_code" in form.errors:
            form.refuse("district", form.errors.pop("region_code"))
        return None


@router.post("/tickets/preview")
async def intake_preview(request: Request, user: Intake) -> Response:
    """The htmx fragment under the intake form: suggested category, department and duplicates."""
    form = Form.of(await request.form(), max_length=5000)
    title, body = form.values.get("title", "").strip(), form.values.get("body", "").strip()
    region = form.get("street") or form.get("district")
    suggestion = None
    if title or body:
        try:
            suggestion = preview(
                store(request),
                dict(departments(request)),
                user,
                title,
                body,
                region,
                form.get("address"),
            )
        except ZhixiangError as exc:
            form.message = exc.message
    return render_page(request, "tickets/_suggestion.html", user, suggestion=suggestion, form=form)


@router.post("/tickets/new")
async def intake(request: Request, user: Intake) -> Response:
    """受理: save the call; with 并入此单 the new ticket follows the chosen open ticket at once."""
    form = Form.of(await request.form())
    draft = _draft(form, "hotline")
    merge_into = form.get("merge_into")
    if merge_into is not None and not merge_into.isdigit():
        form.refuse("merge_into", "并入的工单编号应为数字")
    tickets = store(request)
    if draft is not None and form.ok:
        try:
            result = tickets.intake(user, draft)
        except ZhixiangError as exc:
            if exc.field == "region_code":
                exc.field = "district"
            form.refuse_error(exc, ("title", "body", "district", "category", "priority"))
        else:
            ticket = result.ticket
            if merge_into:
                try:
                    tickets.merge(user, ticket.id, int(merge_into))
                except ZhixiangError as exc:
                    return redirect(f"/app/tickets/{ticket.id}?notice=并单未完成：{exc.message}")
                return redirect(f"/app/tickets/{ticket.id}?notice=已受理并并入工单 {merge_into}")
            notice = "已受理并自动派单" if result.auto_dispatched else "已受理，待派单"
            return redirect(f"/app/tickets/{ticket.id}?notice={notice}")
    return render_page(request, "tickets/new.html", user, 422, form=form, **_options(request))


def _ticket_page(
    request: Request, user: Principal, ticket_id: int, form: Form | None = None, status: int = 200
) -> Response:
    tickets = store(request)
    ticket = tickets.get(user, ticket_id)
    notice = request.query_params.get("notice")
    suggested = (
        tickets.rules.route(ticket.category, ticket.region_code) if ticket.category else None
    )
    return render_page(
        request,
        "tickets/detail.html",
        user,
        status,
        ticket=ticket,
        form=form or Form({"department": ticket.department or ""}),
        actions=_allowed_actions(user, ticket),
        action_labels=ACTION_LABELS,
        satisfaction=list(SATISFACTION_LABELS.items()),
        countdown=countdown(ticket.due_at, ticket.overdue),
        sign_countdown=countdown(ticket.sign_due_at, False)
        if ticket.status == Status.DISPATCHED
        else None,
        notice=notice[:200] if notice else None,
        local=local,
        suggested=suggested,
        dispatch_form=Form({"department": suggested or ""}),
        **_options(request),
    )


@router.get("/tickets/{ticket_id}/media/{number}")
def ticket_media(
    request: Request, user: Reader, ticket_id: TicketId, number: Annotated[int, Path(ge=1, le=4)]
) -> Response:
    """A photo sent with the report, for staff who may read the ticket (the public never sees it)."""
    content_type, data = store(request).media(user, ticket_id, number)
    return Response(data, media_type=content_type, headers={"Cache-Control": "private, no-store"})


@router.get("/tickets/{ticket_id}")
def ticket_page(request: Request, user: Reader, ticket_id: TicketId) -> Response:
    return _ticket_page(request, user, ticket_id)


def _yes_no(form: Form, name: str) -> bool | None:
    value = form.get(name)
    return None if value is None else value == "yes"


async def _act(request: Request, user: Principal, ticket_id: int, group: str) -> Response:
    form = Form.of(await request.form(), max_length=20_000)
    action_name = form.get("action") or ""
    allowed = {a.value: a for a in ACTION_GROUPS[group][1]}
    if action_name not in allowed:
        raise InvalidInput(f"这里不能执行操作 {action_name!r}", "action")
    action = allowed[action_name]
    data: dict[str, Any] = {
        "action": action,
        "reason": form.get("reason"),
        "department": form.get("department")
        if action in (Action.DISPATCH, Action.REASSIGN)
        else None,
        "reply": form.get("reply"),
    }
    if action == Action.EXTEND:
        data["days"] = form.get("days")
    if action == Action.FOLLOW_UP:
        data |= {
            "reached": _yes_no(form, "reached"),
            "responded": _yes_no(form, "responded"),
            "solved": _yes_no(form, "solved"),
            "satisfaction": form.get("satisfaction"),
        }
    try:
        command = Command(**data)
        store(request).act(user, ticket_id, command)
    except ValidationError as exc:
        form.refuse_validation(exc)
        ticket = store(request).get(user, ticket_id)
        if (group, action) not in _allowed_actions(user, ticket):  # its form is not on the page
            form.message = "；".join(form.errors.values())
    except ZhixiangError as exc:
        if isinstance(exc, Forbidden) and exc.field in (None, "api_key", "department"):
            raise
        form.refuse_error(exc, ("reason", "days", "reply", "department", "satisfaction", "reached"))
    else:
        return redirect(f"/app/tickets/{ticket_id}?notice=已{ACTION_LABELS[action]}")
    form.values["open_action"] = action.value
    return _ticket_page(request, user, ticket_id, form, 422)


@router.post("/tickets/{ticket_id}/handle")
async def handle(request: Request, user: Handler, ticket_id: TicketId) -> Response:
    """签收, 办理, 退单, 延期, 办结 by the ticket's own department."""
    return await _act(request, user, ticket_id, "handle")


@router.post("/tickets/{ticket_id}/dispatch")
async def dispatch(request: Request, user: Dispatcher, ticket_id: TicketId) -> Response:
    """派单, 改派, 督办, 催办 by the hotline centre."""
    return await _act(request, user, ticket_id, "dispatch")


@router.post("/tickets/{ticket_id}/follow-up")
async def follow_up(request: Request, user: FollowUp, ticket_id: TicketId) -> Response:
    """回访, 重办, 归档 by the hotline centre."""
    return await _act(request, user, ticket_id, "follow-up")


@router.post("/tickets/{ticket_id}/merge")
async def merge(request: Request, user: Dispatcher, ticket_id: TicketId) -> Response:
    """并单 on an existing ticket: it follows the primary's handling."""
    form = Form.of(await request.form(), max_length=20)
    into = form.get("into") or ""
    if not into.isdigit():
        form.refuse("into", "主单编号应为数字")
        form.message = "并单未完成：主单编号应为数字"
        return _ticket_page(request, user, ticket_id, form, 422)
    try:
        store(request).merge(user, ticket_id, int(into))
    except ZhixiangError as exc:
        form.refuse_error(exc, ("into",))
        form.message = f"并单未完成：{exc.message}"
        return _ticket_page(request, user, ticket_id, form, 422)
    return redirect(f"/app/tickets/{ticket_id}?notice=已并入工单 {into}")


def render_page(
    request: Request, template: str, user: Principal, status: int = 200, **ctx: Any
) -> Response:
    return render(request, template, status, user=user, now=datetime.now(UTC), **ctx)
