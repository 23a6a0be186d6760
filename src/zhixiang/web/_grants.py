"""免申即享 pages: grant batches, proposing one from the latest match run (with a preview first),
a batch's lines and history, and the allowed steps only — 审批/退回, 撤回, objections, the bank file,
登记拨付.

The ledger is `zhixiang.grants`' (the same one the API's `/grants` routes open): it decides who may
do what (never approve one's own batch), checks budgets and exclusivity and keeps the history.
This module lays its answers out, offers only the steps the person may take and puts the ledger's
refusals on the page next to the field they concern.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response

from zhixiang.access import Principal
from zhixiang.api import requires
from zhixiang.errors import InvalidInput, ZhixiangError
from zhixiang.grants import (
    BANK_COLUMNS,
    STATUSES,
    BatchView,
    GrantLedger,
    check_period,
    open_ledger,
    parse_amount,
    propose_from_run,
)
from zhixiang.matching import load_run
from zhixiang.web._app import page_error, redirect, render
from zhixiang.web._capabilities import opened_once, policies
from zhixiang.web._export import MAX_ROWS as MAX_EXPORT
from zhixiang.web._export import export
from zhixiang.web._forms import Form

router = APIRouter(prefix="/app/grants", include_in_schema=False)
Reader = Annotated[Principal, requires("grants.read")]
Proposer = Annotated[Principal, requires("grants.propose")]
Approver = Annotated[Principal, requires("grants.approve")]
Withdrawer = Annotated[Principal, requires("grants.withdraw")]
Exporter = Annotated[Principal, requires("grants.export")]
BatchId = Annotated[int, Path(ge=1, le=2**62)]
RowId = Annotated[int, Path(ge=1, le=2**62)]
#: The 兑现方式 that can be proposed as a batch (申请审核 goes through 智能快审 one by one).
BATCH_DELIVERIES = ("直接兑现", "意愿确认")
#: A batch's stage as the pages name it, in the order a batch moves through them.
STAGES = ("提出", "已审批", "公示中", "已导出", "已拨付", "撤回", "退回")
KIND_LABELS = {"award": "兑现", "reversal": "冲正", "void": "已撤回"}
ACTION_LABELS = {
    "propose": "提出",
    "approve": "审批",
    "withdraw": "撤回/退回",
    "object": "异议",
    "decide": "处理异议",
    "export": "导出拨付清单",
    "paid": "登记拨付",
    "confirm": "意愿确认",
    "decline": "谢绝享受",
    "record_award": "申请审核入账",
}
PAGE = 100


def ledger(request: Request) -> GrantLedger:
    """The app's grant ledger: the API's own when it opened it first (`app.state.grants_ledger`)."""
    return opened_once(
        request, "grants_ledger", lambda: open_ledger(request.app.state.settings.grants_db)
    )


def stage(batch: BatchView, actions: set[str], withdrawn_by_proposer: bool = True) -> str:
    """Where a batch stands, in the words of the pages (the ledger keeps 待审批/已审批/撤回)."""
    if batch.status == "withdrawn":
        return "撤回" if withdrawn_by_proposer else "退回"
    if batch.status == "proposed":
        return "提出"
    if "paid" in actions and not batch.by_status.get("已确认"):
        return "已拨付"
    if "export" in actions:
        return "已导出"
    if batch.notice_until is not None and dt.date.today() <= batch.notice_until:
        return "公示中"
    return "已审批"


def _stage_of(books: GrantLedger, batch: BatchView) -> str:
    history = books.history(batch.id)
    withdrawn = [e for e in history if e.action == "withdraw"]
    by_proposer = not withdrawn or withdrawn[-1].actor == batch.proposed_by
    return stage(batch, {e.action for e in history}, by_proposer)


# -- 批次列表 -----------------------------------------------------------------------------------------


def _amounts_chart(rows: list[tuple[BatchView, str]]) -> dict | None:
    """Amounts (万元) by policy, one stacked series per stage."""
    if not rows:
        return None
    titles = sorted({b.policy_title for b, _ in rows})
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for b, s in rows:
        sums[s][b.policy_title] += b.total
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 8, "bottom": 8, "top": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": titles, "axisLabel": {"rotate": 20}},
        "yAxis": {"type": "value", "name": "万元"},
        "series": [
            {
                "name": s,
                "type": "bar",
                "stack": "amount",
                "data": [round(float(sums[s][t]) / 10_000, 2) for t in titles],
            }
            for s in STAGES
            if s in sums
        ],
    }


@router.get("")
def batch_list(
    request: Request,
    user: Reader,
    status: Annotated[str | None, Query(max_length=10)] = None,
    policy_id: Annotated[str | None, Query(max_length=128)] = None,
    notice: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    if status and status not in STAGES:
        raise InvalidInput(f"状态应为 {'、'.join(STAGES)} 之一", "status")
    books = ledger(request)
    found = [(b, _stage_of(books, b)) for b in books.batches(policy_id or None, limit=500)]
    shown = [(b, s) for b, s in found if not status or s == status]
    titles = {b.policy_id: b.policy_title for b, _ in found}
    return render(
        request,
        "grants/list.html",
        user=user,
        batches=shown,
        stages=STAGES,
        chosen=status,
        policy_id=policy_id,
        policy_choices=sorted(titles.items(), key=lambda item: item[1]),
        chart=_amounts_chart(shown),
        notice=notice,
    )


# -- 提出批次 -----------------------------------------------------------------------------------------


def _proposable(request: Request) -> tuple[Any, list[tuple[str, str]]]:
    """The latest match run and the batch-deliverable policies it evaluated."""
    try:
        run = load_run(request.app.state.settings.results_dir)
    except ZhixiangError:
        return None, []
    in_run = {c.policy_id for c in run.policies}
    choices = [
        (p.id, f"{p.title}（{p.delivery}）")
        for p in policies(request).policies
        if p.id in in_run and p.delivery in BATCH_DELIVERIES
    ]
    return run, choices


def _propose_page(
    request: Request,
    user: Principal,
    form: Form,
    preview: Any = None,
    code: int = 200,
) -> Response:
    run, choices = _proposable(request)
    return render(
        request,
        "grants/propose.html",
        code,
        user=user,
        form=form,
        run=run,
        choices=choices,
        preview=preview,
        kind_labels=KIND_LABELS,
    )


@router.get("/propose")
def propose_form(request: Request, user: Proposer) -> Response:
    run, _ = _proposable(request)
    year = str((run.as_of if run else dt.date.today()).year)
    return _propose_page(request, user, Form({"period": year, "notice_days": "0"}))


@router.post("/propose")
async def propose(request: Request, user: Proposer) -> Response:
    """预览 (writes nothing) or 提出: the same call to the ledger, with every one of its checks."""
    form = Form.of(await request.form(), max_length=200)
    policy_id, period = form.get("policy_id"), form.get("period")
    if policy_id is None:
        form.refuse("policy_id", "请选择政策")
    if period is None:
        form.refuse("period", "必填：年度，如 2026")
    else:
        try:
            check_period(period)
        except ZhixiangError as exc:
            form.refuse("period", exc.message)
    notice_days = 0
    try:
        notice_days = int(form.get("notice_days") or "0")
    except ValueError:
        form.refuse("notice_days", "应为整数（天）")
    if not form.ok:
        return _propose_page(request, user, form, code=422)
    settings = request.app.state.settings
    preview = form.get("action") != "propose"
    try:
        proposal = propose_from_run(
            ledger(request),
            policies(request).policies,
            policy_id,  # type: ignore[arg-type]
            period,  # type: ignore[arg-type]
            user,
            results_dir=settings.results_dir,
            notice_days=notice_days,
            preview=preview,
        )
    except ZhixiangError as exc:
        form.refuse_error(exc, ("policy_id", "period", "notice_days"))
        return _propose_page(request, user, form, code=exc.status if exc.status != 403 else 422)
    if proposal.batch is None:
        if not (proposal.awards or proposal.reversals):
            form.message = "没有可提出的兑现：符合条件的主体都已在台账中或被暂缓（见下方原因）"
        return _propose_page(request, user, form, preview=proposal)
    notice = f"已提出批次 #{proposal.batch.id}：{proposal.awards} 笔兑现，{proposal.reversals} 笔冲正，待审核员审批"
    return redirect(f"/app/grants/{proposal.batch.id}?notice={quote(notice)}")


# -- 批次详情 -----------------------------------------------------------------------------------------


def _effects(request: Request, books: GrantLedger, batch: BatchView) -> dict[str, Any]:
    """The policy's budget, annual cap and exclusivity group beside what this batch uses of them."""
    policy = policies(request).by_id(batch.policy_id)
    approved = sum(
        (
            b.total
            for b in books.batches(batch.policy_id, batch.period, limit=500)
            if b.status == "approved" and b.id != batch.id
        ),
        Decimal(0),
    )
    return {
        "budget": policy.budget if policy else None,
        "annual_cap": policy.annual_cap if policy else None,
        "group": policy.exclusivity_group if policy else None,
        "approved_before": approved,
    }


def _detail(
    request: Request,
    user: Principal,
    batch_id: int,
    *,
    page: int = 1,
    line_status: str | None = None,
    notice: str | None = None,
    form: Form | None = None,
    form_for: str | None = None,
    code: int = 200,
) -> Response:
    books = ledger(request)
    batch = books.batch(batch_id)
    history = books.history(batch_id)
    total = sum(n for s, n in batch.by_status.items() if line_status is None or s == line_status)
    lines = books.lines(batch_id, status=line_status, limit=PAGE, offset=(page - 1) * PAGE)
    withdrawn = [e for e in history if e.action == "withdraw"]
    by_proposer = not withdrawn or withdrawn[-1].actor == batch.proposed_by
    mine = user.actor == batch.proposed_by
    proposed = batch.status == "proposed"
    today = dt.date.today()
    in_notice = batch.notice_until is not None and today <= batch.notice_until
    exports = books.exports(batch_id)
    return render(
        request,
        "grants/detail.html",
        code,
        user=user,
        batch=batch,
        stage=stage(batch, {e.action for e in history}, by_proposer),
        history=history,
        action_labels=ACTION_LABELS,
        kind_labels=KIND_LABELS,
        lines=lines,
        line_status=line_status,
        line_statuses=STATUSES,
        page=page,
        pages=max(1, -(-total // PAGE)),
        total_lines=total,
        objections=books.objections(batch_id),
        exports=exports,
        effects=_effects(request, books, batch),
        mine=mine,
        can_approve=proposed and user.can("grants.approve") and not mine,
        can_withdraw=proposed
        and user.can("grants.withdraw")
        and (mine or user.can("grants.approve")),
        can_decide=user.can("grants.approve"),
        can_export=(
            batch.status == "approved"
            and user.can("grants.export")
            and not in_notice
            and bool(batch.by_status.get("已确认"))
        ),
        can_pay=user.can("grants.export"),
        in_notice=in_notice,
        notice=notice,
        form=form or Form(),
        form_for=form_for,
    )


@router.get("/{batch_id}")
def batch_page(
    request: Request,
    user: Reader,
    batch_id: BatchId,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    status: Annotated[str | None, Query(max_length=10)] = None,
    notice: Annotated[str | None, Query(max_length=300)] = None,
    format: str | None = None,
) -> Response:
    if status and status not in STATUSES:
        raise InvalidInput(f"行状态应为 {'、'.join(STATUSES)} 之一", "status")
    if format:
        books = ledger(request)
        batch = books.batch(batch_id)
        rows: list[dict[str, Any]] = []
        while len(rows) < MAX_EXPORT:
            found = books.lines(batch_id, status=status, limit=10_000, offset=len(rows))
            rows += [
                line.__dict__ | {"kind": KIND_LABELS.get(line.kind, line.kind)} for line in found
            ]
            if len(found) < 10_000:
                break
        columns = (
            ("id", "行号"),
            ("entity_id", "统一社会信用代码"),
            ("kind", "类型"),
            ("amount", "金额（元）"),
            ("status", "状态"),
            ("reason", "说明"),
            ("reverses", "冲正的行"),
            ("export_id", "拨付清单"),
        )
        return export(rows, columns, f"{batch.policy_title}-{batch.period}-批次{batch_id}", format)
    return _detail(request, user, batch_id, page=page, line_status=status, notice=notice)


def _done(batch_id: int, notice: str) -> Response:
    return redirect(f"/app/grants/{batch_id}?notice={quote(notice)}")


@router.post("/{batch_id}/approve")
async def approve(request: Request, user: Approver, batch_id: BatchId) -> Response:
    form = Form.of(await request.form(), max_length=200)
    try:
        ledger(request).approve(batch_id, user)
    except ZhixiangError as exc:
        form.refuse_error(exc)
        return _detail(request, user, batch_id, form=form, form_for="approve", code=exc.status)
    return _done(batch_id, f"批次 #{batch_id} 已审批")


@router.post("/{batch_id}/withdraw")
async def withdraw(request: Request, user: Withdrawer, batch_id: BatchId) -> Response:
    """撤回 by the proposer, 退回 by a reviewer: both with a reason, both before approval."""
    form = Form.of(await request.form(), max_length=3000)
    reason = form.get("reason")
    if reason is None:
        form.refuse("reason", "请写明理由（记入批次历史）")
    elif len(reason) > 2000:
        form.refuse("reason", "过长：最多 2000 个字符")
    if form.ok:
        try:
            ledger(request).withdraw(batch_id, user, reason)  # type: ignore[arg-type]
        except ZhixiangError as exc:
            form.refuse_error(exc, ("reason",))
        else:
            return _done(batch_id, f"批次 #{batch_id} 已撤回")
    return _detail(request, user, batch_id, form=form, form_for="withdraw", code=422)


@router.post("/objections/{objection_id}/decision")
async def decide(request: Request, user: Approver, objection_id: RowId) -> Response:
    """异议 成立 (the line revoked, or corrected to an amount) or 不成立, with the reason."""
    form = Form.of(await request.form(), max_length=3000)
    books = ledger(request)
    objection = books.objection(objection_id)
    batch_id = books.line(objection.line_id).batch_id
    outcome, note, raw = form.get("outcome"), form.get("note"), form.get("corrected")
    if outcome not in ("uphold", "reject"):
        form.refuse("outcome", "请选择成立或不成立")
    if note is None:
        form.refuse("note", "请写明处理意见")
    elif len(note) > 2000:
        form.refuse("note", "过长：最多 2000 个字符")
    corrected = None
    if raw is not None:
        try:
            corrected = parse_amount(raw)
        except ZhixiangError as exc:
            form.refuse("corrected", exc.message)
    if form.ok:
        try:
            books.decide(
                objection_id,
                user,
                uphold=outcome == "uphold",
                note=note,  # type: ignore[arg-type]
                corrected=corrected,
            )
        except ZhixiangError as exc:
            form.refuse_error(exc, ("outcome", "note", "corrected"))
        else:
            verdict = "成立" if outcome == "uphold" else "不成立"
            return _done(batch_id, f"异议 #{objection_id} 已处理：{verdict}")
    return _detail(
        request, user, batch_id, form=form, form_for=f"objection-{objection_id}", code=422
    )


@router.post("/{batch_id}/export")
async def export_payments(request: Request, user: Exporter, batch_id: BatchId) -> Response:
    """拨付清单 as the bank's CSV; missing accounts are named, or held out when asked."""
    form = Form.of(await request.form(), max_length=200)
    try:
        result = ledger(request).export(batch_id, user, hold_missing=form.flag("hold_missing"))
    except ZhixiangError as exc:
        form.refuse_error(exc, ("hold_missing",))
        return _detail(request, user, batch_id, form=form, form_for="export", code=422)
    if result is None:
        form.message = "没有可导出的行：已确认的行都已导出，或都缺少收款账户"
        return _detail(request, user, batch_id, form=form, form_for="export", code=422)
    columns = tuple((c, c) for c in BANK_COLUMNS)
    return export(result.rows, columns, f"拨付清单{result.export_id}-批次{batch_id}", "csv")


@router.post("/exports/{export_id}/paid")
async def mark_paid(request: Request, user: Exporter, export_id: RowId) -> Response:
    """登记拨付: the bank's result — every line paid except those it returned (one code a line)."""
    form = Form.of(await request.form(), max_length=200_000)
    raw_batch = form.get("batch_id") or ""
    if not raw_batch.isdigit():
        return page_error(request, 422, "缺少批次编号", "batch_id")
    batch_id = int(raw_batch)
    returned = [c.strip() for c in (form.get("returned") or "").split() if c.strip()]
    try:
        done = ledger(request).mark_paid(export_id, user, returned)
    except ZhixiangError as exc:
        form.refuse_error(exc, ("returned",))
        return _detail(request, user, batch_id, form=form, form_for=f"paid-{export_id}", code=422)
    counts = "，".join(f"{k} {v} 行" for k, v in done.items())
    return _done(batch_id, f"拨付清单 #{export_id} 已登记：{counts}")
