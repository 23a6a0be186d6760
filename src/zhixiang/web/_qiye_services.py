"""企业服务 for a signed-in enterprise: its 免申即享 notices (意愿确认, 异议 during 公示) and its
applications for 申请审核 policies (智能快审), with the status of each.

The grant ledger and the review desk decide everything — who may confirm or object (only for one's
own enterprise), whether the notice period is open, which facts may be declared (only those the data
hub lacks: 免证办), and the decision. This module lays out their answers, puts their refusals next to
the field, and shows an enterprise only its own lines and applications.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import ValidationError

from zhixiang.access import Principal
from zhixiang.api import requires
from zhixiang.api.grants import AccountInput, ReasonInput
from zhixiang.catalog import load_catalog
from zhixiang.errors import NotFound, ZhixiangError
from zhixiang.grants import GrantLedger, LineView, open_ledger
from zhixiang.review import APPLICATION_MODE, STATUS_LABELS, ApplicationView
from zhixiang.web._app import redirect, render
from zhixiang.web._calculator import ASKED_TYPES, Question, answers_from, question_for
from zhixiang.web._capabilities import policies
from zhixiang.web._forms import Form
from zhixiang.web._review import desk

router = APIRouter(prefix="/qiye", include_in_schema=False)
Enterprise = Annotated[Principal, requires("portal.enterprise")]
LineId = Annotated[int, Path(ge=1, le=2**62)]
PolicyId = Annotated[str, Path(max_length=120, pattern=r"^[a-z0-9][a-z0-9-]*$")]
#: Longest text a form field may carry before it is refused (never silently cut).
MAX_FIELD = 4000
_lock = threading.Lock()

BATCH_LABELS = {"proposed": "拟兑现（待审批）", "approved": "已审批", "withdrawn": "已撤回"}
ACTION_LABELS = {
    "submitted": "提交申请",
    "auto_decided": "自动审核",
    "reviewed": "人工审核",
    "override": "审核改判",
}


def ledger(request: Request) -> GrantLedger:
    """The app's grant ledger: the API's own when it opened it first (`app.state.grants_ledger`)."""
    state = request.app.state
    if getattr(state, "grants_ledger", None) is None:
        with _lock:
            if getattr(state, "grants_ledger", None) is None:
                state.grants_ledger = open_ledger(state.settings.grants_db)
    return state.grants_ledger


def _form(data: Any) -> Form:
    """The form's values; a value longer than MAX_FIELD is refused next to its field."""
    form = Form.of(data, max_length=MAX_FIELD + 1)
    for name, value in form.values.items():
        if len(value) > MAX_FIELD:
            form.refuse(name, f"过长：最多 {MAX_FIELD} 个字符")
    return form


# -- 免申即享 notices -----------------------------------------------------------------------------


def _notice_rows(request: Request, user: Principal) -> list[dict[str, Any]]:
    """This enterprise's ledger lines, each with its batch, its notice text and its objections."""
    book = ledger(request)
    code = user.subject or ""
    notices = {n.line_id: n for n in book.notices(code, limit=200)}
    batches: dict[int, Any] = {}
    objections: dict[int, list] = {}
    today = dt.date.today()
    rows = []
    for line in book.lines(entity_id=code, limit=500):
        if line.batch_id not in batches:
            batches[line.batch_id] = book.batch(line.batch_id)
            objections[line.batch_id] = [
                o for o in book.objections(line.batch_id) if o.entity_id == code
            ]
        batch = batches[line.batch_id]
        approved = batch.status == "approved"
        rows.append(
            {
                "line": line,
                "batch": batch,
                "notice": notices.get(line.id),
                "status": line.status if approved else BATCH_LABELS.get(batch.status, batch.status),
                "can_confirm": approved
                and batch.delivery == "意愿确认"
                and line.kind == "award"
                and line.status == "待确认",
                "can_object": approved
                and batch.notice_until is not None
                and today <= batch.notice_until
                and line.kind == "award"
                and line.status != "撤销",
                "objections": [o for o in objections[line.batch_id] if o.line_id == line.id],
            }
        )
    return rows[::-1]


def _notices(
    request: Request,
    user: Principal,
    form: Form | None = None,
    line_id: int | None = None,
    status: int = 200,
    done: str | None = None,
) -> Response:
    return render(
        request,
        "qiye/notices.html",
        status,
        user=user,
        rows=_notice_rows(request, user),
        form=form or Form(),
        form_line=line_id,
        done=done,
    )


#: What the notices page says after a successful action (`?done=`).
_DONE = {"confirm": "已确认", "decline": "已谢绝，本期不再兑现", "object": "异议已提交"}


@router.get("/notices")
def notices(request: Request, user: Enterprise, done: str = "") -> Response:
    """免申即享通知: each line of this enterprise with its status, and what it may do about it."""
    return _notices(request, user, done=_DONE.get(done))


def _own_line(request: Request, user: Principal, line_id: int) -> LineView:
    """The line, when it is this enterprise's; another's is answered as not found (nothing leaks)."""
    try:
        line = ledger(request).line(line_id)
    except NotFound:
        line = None
    if line is None or line.entity_id != user.subject:
        raise NotFound(f"贵企业没有编号为 {line_id} 的兑现通知", field="line_id")
    return line


@router.post("/notices/{line_id}/confirm")
async def confirm(request: Request, user: Enterprise, line_id: LineId) -> Response:
    """意愿确认: the enterprise confirms it wants the money and where it goes (the ledger checks)."""
    form = _form(await request.form())
    _own_line(request, user, line_id)
    if form.ok:
        try:
            body = AccountInput(
                payee=form.values.get("payee", "").strip(),
                bank=form.values.get("bank", "").strip(),
                account=form.values.get("account", "").strip(),
            )
            ledger(request).confirm(
                line_id, user, payee=body.payee, bank=body.bank, account=body.account
            )
        except ValidationError as exc:
            form.refuse_validation(exc)
        except ZhixiangError as exc:
            form.refuse_error(exc, ("payee", "bank", "account"))
        else:
            return redirect("/qiye/notices?done=confirm")
    return _notices(request, user, form, line_id, 422)


@router.post("/notices/{line_id}/decline")
async def decline(request: Request, user: Enterprise, line_id: LineId) -> Response:
    """意愿确认, answered no: the enterprise declines this period's benefit (an optional reason)."""
    form = _form(await request.form())
    _own_line(request, user, line_id)
    if len(form.values.get("decline_reason", "")) > 2000:
        form.refuse("decline_reason", "过长：最多 2000 个字符")
    if form.ok:
        try:
            ledger(request).decline(line_id, user, form.values.get("decline_reason", ""))
        except ZhixiangError as exc:
            form.refuse_error(exc, ("decline_reason",))
        else:
            return redirect("/qiye/notices?done=decline")
    return _notices(request, user, form, line_id, 422)


@router.post("/notices/{line_id}/object")
async def object_to(request: Request, user: Enterprise, line_id: LineId) -> Response:
    """异议 during 公示, with a reason (the ledger refuses outside the notice period)."""
    form = _form(await request.form())
    _own_line(request, user, line_id)
    if form.ok:
        try:
            body = ReasonInput(reason=form.values.get("reason", "").strip())
            ledger(request).object(line_id, user, body.reason)
        except ValidationError as exc:
            form.refuse_validation(exc)
        except ZhixiangError as exc:
            form.refuse_error(exc, ("reason",))
        else:
            return redirect("/qiye/notices?done=object")
    return _notices(request, user, form, line_id, 422)


# -- 申请审核 applications ------------------------------------------------------------------------


def _applicable(request: Request) -> list[Any]:
    today = dt.date.today()
    return [
        p
        for p in policies(request).policies
        if p.entity == "enterprise"
        and getattr(p, "delivery", None) == APPLICATION_MODE
        and p.in_force(today)
    ]


def _asked(request: Request, user: Principal, policy_id: str) -> list[Question]:
    """Questions for only the facts the desk says the government lacks for this enterprise."""
    catalog = load_catalog("enterprise")
    names = desk(request).askable(user, policy_id, user.subject or "")
    return [
        question_for(catalog[n], f"d_{n}")
        for n in names
        if n in catalog and catalog[n].type in ASKED_TYPES
    ]


@router.get("/apply")
def apply_list(request: Request, user: Enterprise) -> Response:
    """The 申请审核 policies in force an enterprise may apply for."""
    return render(request, "qiye/apply_list.html", user=user, applicable=_applicable(request))


def _apply_page(
    request: Request,
    user: Principal,
    policy_id: str,
    form: Form,
    status: int = 200,
    result: ApplicationView | None = None,
) -> Response:
    policy = next((p for p in _applicable(request) if p.id == policy_id), None)
    if policy is None:
        raise NotFound(f"没有可以申请的政策 {policy_id}（不在有效期或无需申请）", field="policy_id")
    asked = _asked(request, user, policy_id)
    return render(
        request,
        "qiye/apply.html",
        status,
        user=user,
        policy=policy,
        asked=asked,
        form=form,
        result=result,
        labels=STATUS_LABELS,
    )


@router.get("/apply/{policy_id}")
def apply_form(request: Request, user: Enterprise, policy_id: PolicyId) -> Response:
    return _apply_page(request, user, policy_id, Form())


@router.post("/apply/{policy_id}")
async def apply(request: Request, user: Enterprise, policy_id: PolicyId) -> Response:
    """Apply: declared facts go to the desk as typed; it decides at once or queues for a reviewer."""
    form = _form(await request.form())
    catalog = load_catalog("enterprise")
    # Every d_<field> sent is passed on, even one the page did not ask for: the desk refuses a
    # fact the data hub already holds (免证办) and says so next to it.
    sent = [
        question_for(catalog[k[2:]], k)
        for k in form.values
        if k.startswith("d_") and k[2:] in catalog and catalog[k[2:]].type in ASKED_TYPES
    ]
    for k in form.values:
        if k.startswith("d_") and k[2:] not in catalog:
            form.refuse(k, "不认识的申报事项")
    declared = answers_from(form, sent)
    result = None
    if form.ok:
        try:
            result = desk(request).apply(
                user, policy_id, user.subject or "", declared, note=form.values.get("note", "")
            )
        except ZhixiangError as exc:
            field = exc.field or ""
            if field.startswith("declared."):
                name = field.removeprefix("declared.")
                form.refuse(f"d_{catalog[name].name if name in catalog else name}", exc.message)
            else:
                form.refuse_error(exc, ("note",))
    return _apply_page(request, user, policy_id, form, 200 if form.ok else 422, result)


@router.get("/applications")
def applications(request: Request, user: Enterprise) -> Response:
    """我的申请: this enterprise's applications, newest first, each with its status."""
    found = desk(request).applications(user)
    titles = {p.id: p.title for p in policies(request).policies}
    return render(
        request,
        "qiye/applications.html",
        user=user,
        applications=found,
        titles=titles,
        labels=STATUS_LABELS,
    )


@router.get("/applications/{application_id}")
def application(
    request: Request, user: Enterprise, application_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    """One application with each condition's data and its history (the desk refuses others')."""
    view = desk(request).get(user, application_id)
    if view.entity_id != user.subject:
        raise NotFound(f"贵企业没有编号为 {application_id} 的申请", field="application_id")
    events = desk(request).history(user, application_id)
    titles = {p.id: p.title for p in policies(request).policies}
    return render(
        request,
        "qiye/application.html",
        user=user,
        app=view,
        events=events,
        titles=titles,
        labels=STATUS_LABELS,
        actions=ACTION_LABELS,
    )
