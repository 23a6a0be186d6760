"""智能快审 API: apply (enterprise and citizen accounts, or an intake window), and the reviewer's queue.

Thin: each route declares its permission with `requires()`, calls `zhixiang.review` and returns its
values; refusals are the desk's errors (what, and which field), never a 500.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from zhixiang.access import Principal
from zhixiang.api._auth import public, requires
from zhixiang.api.policies import get_policies
from zhixiang.errors import ZhixiangError
from zhixiang.review import ReviewDesk, open_review_desk

router = APIRouter(prefix="/review", tags=["智能快审"])
_lock = threading.Lock()

Applicant = Annotated[Principal, requires("review.apply")]
Reviewer = Annotated[Principal, requires("review.decide")]
ApplicationId = Annotated[int, Path(ge=1, le=2**31 - 1, description="申请编号")]


class ApplicationInput(BaseModel):
    policy_id: str = Field(max_length=120, description="政策编号（兑现方式为“申请审核”）")
    entity_id: str = Field(max_length=64, description="申请企业的统一社会信用代码")
    declared: dict[str, Any] = Field(
        default_factory=dict,
        max_length=50,
        description='数据中台没有、只有申请人知道的事项，如 {"新招用高校毕业生人数": 3}；部门已共享的不能申报',
    )
    note: str = Field(default="", max_length=2000, description="申请说明")
    as_of: dt.date | None = Field(default=None, description="审核日期，默认今天")


class DecisionInput(BaseModel):
    status: str = Field(pattern="^(approved|refused)$", description="approved 或 refused")
    reason: str = Field(min_length=1, max_length=2000, description="理由（必填，记入审核历史）")
    amount: Decimal | None = Field(default=None, ge=0, description="批准金额（元）；默认按政策计算")


def _desk(request: Request) -> ReviewDesk:
    """One desk per app: it keeps a connection to the warehouse and to the review tables."""
    state = request.app.state
    if getattr(state, "review_desk", None) is None:
        with _lock:
            if getattr(state, "review_desk", None) is None:
                try:
                    state.review_desk = open_review_desk(
                        get_policies(request).policies, state.settings
                    )
                except ZhixiangError as exc:
                    raise HTTPException(exc.status, exc.message) from None
                except Exception as exc:
                    raise HTTPException(503, f"智能快审暂时不可用: {exc}") from None
    return state.review_desk


def _call(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return fn(*args, **kwargs)
    except ZhixiangError as exc:
        raise HTTPException(exc.status, exc.message) from None


@router.post("/applications", status_code=201)
def apply(body: ApplicationInput, request: Request, caller: Applicant) -> dict:
    """Apply; decided at once when the shared data are clear, else queued for a reviewer."""
    view = _call(
        _desk(request).apply,
        caller,
        body.policy_id,
        body.entity_id,
        body.declared,
        note=body.note,
        as_of=body.as_of or dt.date.today(),
    )
    return view.to_dict()


@router.get("/applications/{application_id}")
def show(
    application_id: ApplicationId, request: Request, caller: Annotated[Principal, public()]
) -> dict:
    """One application with each condition's data and source, and its history: for the applicant
    (or the enterprise it is for) and reviewers; the desk refuses anyone else."""
    desk = _desk(request)
    view = _call(desk.get, caller, application_id)
    events = _call(desk.history, caller, application_id)
    return {
        **view.to_dict(),
        "history": [
            {
                "actor": e.actor,
                "action": e.action,
                "before": e.before,
                "after": e.after,
                "amount": None if e.amount is None else str(e.amount),
                "reason": e.reason,
                "at": e.at.isoformat(),
            }
            for e in events
        ],
    }


@router.get("/queue")
def queue(
    request: Request,
    caller: Reviewer,
    status: Annotated[str, Query(pattern="^(pending|approved|refused)$")] = "pending",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict]:
    """The reviewer's queue, oldest first, each with what is missing or contested."""
    return [v.to_dict() for v in _call(_desk(request).queue, caller, status, limit)]


@router.post("/applications/{application_id}/decision")
def decide(
    application_id: ApplicationId, body: DecisionInput, request: Request, caller: Reviewer
) -> dict:
    """A reviewer's decision or override, with a reason (kept in the application's history)."""
    view = _call(
        _desk(request).decide, caller, application_id, body.status, body.reason, amount=body.amount
    )
    return view.to_dict()


@router.get("/stats")
def stats(request: Request, caller: Reviewer) -> dict:
    """Share decided automatically, pending count, median time from application to decision."""
    return _desk(request).stats()
