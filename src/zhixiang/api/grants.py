"""免申即享 API: grant batches, their lines, objections, disbursement lists, the dashboard.

Thin: each route declares its permission with `requires()`, calls `zhixiang.grants` and returns
its values; who may approve what (never one's own batch) is decided by the ledger itself.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from zhixiang.access import Principal
from zhixiang.api._auth import requires
from zhixiang.api.policies import Policies
from zhixiang.grants import GrantLedger, open_ledger, parse_amount, propose_from_run

router = APIRouter(prefix="/grants", tags=["免申即享"])
_lock = threading.Lock()

BatchId = Annotated[int, Path(ge=1, le=2**62, description="批次编号")]
LineId = Annotated[int, Path(ge=1, le=2**62, description="台账行号")]
PeriodQuery = Annotated[str | None, Query(pattern="^20[0-9]{2}$", description="年度，如 2026")]
Reader = Annotated[Principal, requires("grants.read")]
Proposer = Annotated[Principal, requires("grants.propose")]
Approver = Annotated[Principal, requires("grants.approve")]
Objector = Annotated[Principal, requires("grants.object")]
Exporter = Annotated[Principal, requires("grants.export")]


def _ledger(request: Request) -> GrantLedger:
    state = request.app.state
    ledger = getattr(state, "grants_ledger", None)
    if ledger is None:
        with _lock:
            ledger = getattr(state, "grants_ledger", None)
            if ledger is None:
                ledger = state.grants_ledger = open_ledger(state.settings.grants_db)
    return ledger


class ProposeInput(BaseModel):
    policy_id: str = Field(max_length=128, description="政策编号")
    period: str = Field(pattern="^20[0-9]{2}$", description="年度，如 2026")
    run_id: str | None = Field(default=None, max_length=64, description="匹配批次，默认当前批次")
    notice_days: int = Field(default=0, ge=0, le=60, description="审批后公示天数，0 为不公示")


class ReasonInput(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="理由")


class DecisionInput(BaseModel):
    uphold: bool = Field(description="异议是否成立")
    note: str = Field(min_length=1, max_length=2000, description="处理意见")
    corrected: str | None = Field(
        default=None, max_length=32, description="成立时更正后的金额（如 10万元）；不给则撤销该行"
    )


class AccountInput(BaseModel):
    payee: str = Field(min_length=1, max_length=300, description="收款单位")
    bank: str = Field(min_length=1, max_length=300, description="开户行")
    account: str = Field(min_length=8, max_length=40, description="账号")


class PaidInput(BaseModel):
    returned: list[str] = Field(
        default_factory=list, max_length=100_000, description="银行退回的主体"
    )


def _proposal(p: Any) -> dict[str, Any]:
    return {
        "batch": p.batch.to_dict() if p.batch else None,
        "awards": p.awards,
        "reversals": p.reversals,
        "held": p.held,
    }


@router.post("/batches")
def propose(
    request: Request, body: ProposeInput, who: Proposer, policies: Policies
) -> dict[str, Any]:
    """提出兑现批次（政策管理员）: the current run's eligible entities not yet in the ledger."""
    proposal = propose_from_run(
        _ledger(request),
        policies.policies,
        body.policy_id,
        body.period,
        who,
        results_dir=request.app.state.settings.results_dir,
        run_id=body.run_id,
        notice_days=body.notice_days,
    )
    return _proposal(proposal)


@router.get("/batches")
def list_batches(
    request: Request,
    who: Reader,
    policy_id: Annotated[str | None, Query(max_length=128)] = None,
    period: PeriodQuery = None,
) -> list[dict[str, Any]]:
    """兑现批次, newest first."""
    return [b.to_dict() for b in _ledger(request).batches(policy_id, period)]


@router.get("/batches/{batch_id}")
def batch_status(request: Request, batch_id: BatchId, who: Reader) -> dict[str, Any]:
    return _ledger(request).batch(batch_id).to_dict()


@router.get("/batches/{batch_id}/lines")
def batch_lines(
    request: Request,
    batch_id: BatchId,
    who: Reader,
    status: Annotated[str | None, Query(pattern="^(待确认|已确认|已拨付|退回|撤销)$")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    found = _ledger(request).lines(batch_id, status=status, limit=limit, offset=offset)
    return [line.to_dict() for line in found]


@router.post("/batches/{batch_id}/approve")
def approve(request: Request, batch_id: BatchId, who: Approver) -> dict[str, Any]:
    """审批（审核员，不能审批本人提出的批次）."""
    return _ledger(request).approve(batch_id, who).to_dict()


@router.post("/batches/{batch_id}/withdraw")
def withdraw(
    request: Request,
    batch_id: BatchId,
    body: ReasonInput,
    who: Annotated[Principal, requires("grants.withdraw")],
) -> dict[str, Any]:
    """撤回（提出人）或退回（审核员）尚未审批的批次."""
    return _ledger(request).withdraw(batch_id, who, body.reason).to_dict()


@router.post("/lines/{line_id}/objections")
def object_to_line(
    request: Request, line_id: LineId, body: ReasonInput, who: Objector
) -> dict[str, Any]:
    """公示期内提出异议（企业仅本单位）."""
    return _ledger(request).object(line_id, who, body.reason).__dict__


@router.post("/objections/{objection_id}/decision")
def decide(
    request: Request,
    objection_id: Annotated[int, Path(ge=1, le=2**62)],
    body: DecisionInput,
    who: Approver,
) -> dict[str, Any]:
    corrected = parse_amount(body.corrected) if body.corrected else None
    found = _ledger(request).decide(
        objection_id, who, uphold=body.uphold, note=body.note, corrected=corrected
    )
    return found.__dict__


@router.post("/lines/{line_id}/confirm")
def confirm(request: Request, line_id: LineId, body: AccountInput, who: Objector) -> dict[str, Any]:
    """意愿确认: the entity confirms its bank account (an enterprise only for itself)."""
    line = _ledger(request).confirm(
        line_id, who, payee=body.payee, bank=body.bank, account=body.account
    )
    return line.to_dict()


class DeclineInput(BaseModel):
    reason: str = Field(default="", max_length=2000, description="说明（可不填）")


@router.post("/lines/{line_id}/decline")
def decline(request: Request, line_id: LineId, body: DeclineInput, who: Objector) -> dict[str, Any]:
    """意愿确认, answered no (谢绝享受): the line is 撤销 and this period is not offered again."""
    return _ledger(request).decline(line_id, who, body.reason).to_dict()


@router.post("/batches/{batch_id}/export")
def export(
    request: Request,
    batch_id: BatchId,
    who: Exporter,
    hold_missing: Annotated[bool, Query(description="缺少收款账户的行暂缓，其余导出")] = False,
) -> dict[str, Any]:
    """拨付清单 as rows in the bank-file layout (收款单位 … 用途); the web offers it as CSV."""
    result = _ledger(request).export(batch_id, who, hold_missing=hold_missing)
    if result is None:
        return {"export_id": None, "lines": 0, "rows": []}
    return {
        "export_id": result.export_id,
        "lines": result.lines,
        "total": str(result.total),
        "held": result.held,
        "rows": result.rows,
    }


@router.post("/exports/{export_id}/paid")
def mark_paid(
    request: Request,
    export_id: Annotated[int, Path(ge=1, le=2**62)],
    body: PaidInput,
    who: Exporter,
) -> dict[str, int]:
    return _ledger(request).mark_paid(export_id, who, body.returned)


@router.get("/dashboard")
def dashboard(
    request: Request,
    who: Reader,
    period: PeriodQuery = None,
    policy_id: Annotated[str | None, Query(max_length=128)] = None,
) -> list[dict[str, Any]]:
    """看板: per policy and period — eligible, granted without application, confirmed, paid,
    objections, automatically decided applications, median days to money."""
    return [row.to_dict() for row in _ledger(request).dashboard(period, policy_id)]
