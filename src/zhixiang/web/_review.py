"""智能快审 for reviewers: the queue of applications the data could not decide, each condition with
the shared data behind it and its source, and the decision (or an override) with a reason.

The desk is `zhixiang.review`'s, the same one the API's `/review` routes open; it decides, checks
who may, and keeps the history. This module lays its answers out and puts refusals next to fields.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response

from zhixiang.access import Principal
from zhixiang.api import requires
from zhixiang.errors import InvalidInput, ZhixiangError
from zhixiang.review import APPROVED, PENDING, REFUSED, STATUS_LABELS, ReviewDesk, open_review_desk
from zhixiang.web._app import redirect, render
from zhixiang.web._capabilities import opened_once, policies
from zhixiang.web._forms import Form

router = APIRouter(prefix="/app/review", include_in_schema=False)
Reviewer = Annotated[Principal, requires("review.decide")]
ApplicationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
QUEUE_LIMIT = 200


def desk(request: Request) -> ReviewDesk:
    """The app's review desk: the API's own when it opened it first (`app.state`)."""
    return opened_once(
        request,
        "review_desk",
        lambda: open_review_desk(policies(request).policies, request.app.state.settings),
    )


def _queue_page(
    request: Request,
    user: Principal,
    status: str,
    notice: str | None = None,
    form: Form | None = None,
    form_for: int | None = None,
    code: int = 200,
) -> Response:
    if status not in STATUS_LABELS:
        raise InvalidInput(f"状态应为 {'、'.join(STATUS_LABELS)} 之一", "status")
    reviews = desk(request)
    found = reviews.queue(user, status, QUEUE_LIMIT)
    titles = {p.id: p.title for p in policies(request).policies}
    return render(
        request,
        "review/queue.html",
        code,
        user=user,
        applications=found,
        chosen=status,
        statuses={k: STATUS_LABELS[k] for k in (PENDING, APPROVED, REFUSED)},
        titles=titles,
        stats=reviews.stats(),
        notice=notice,
        form=form or Form(),
        form_for=form_for,
        pending=PENDING,
    )


@router.get("")
def review_queue(
    request: Request, user: Reviewer, status: str = PENDING, notice: str | None = None
) -> Response:
    return _queue_page(request, user, status, notice)


@router.post("/{application_id}/decision")
async def review_decide(
    request: Request, user: Reviewer, application_id: ApplicationId
) -> Response:
    """批准 or 不予批准 with a reason; an amount only when it differs from the policy's own."""
    form = Form.of(await request.form(), max_length=3000)
    status, reason, raw_amount = form.get("status"), form.get("reason"), form.get("amount")
    if status not in (APPROVED, REFUSED):
        form.refuse("status", "请选择批准或不予批准")
    if reason is None:
        form.refuse("reason", "请写明理由（记入审核历史）")
    elif len(reason) > 2000:
        form.refuse("reason", "过长：最多 2000 个字符")
    amount = None
    if raw_amount is not None:
        try:
            amount = Decimal(raw_amount.replace(",", ""))
        except InvalidOperation:
            form.refuse("amount", "金额应为数字（元）")
        else:
            if not amount.is_finite() or amount < 0 or amount > Decimal("1e12"):
                form.refuse("amount", "金额应为不小于 0 的数字（元）")
    if form.ok:
        try:
            desk(request).decide(user, application_id, status, reason, amount=amount)  # type: ignore[arg-type]
        except ZhixiangError as exc:
            form.refuse_error(exc, ("status", "reason", "amount"))
        else:
            notice = f"申请 #{application_id} 已{STATUS_LABELS[status]}"  # type: ignore[index]
            return redirect("/app/review?notice=" + quote(notice))
    return _queue_page(request, user, PENDING, form=form, form_for=application_id, code=422)
