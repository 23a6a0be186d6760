"""政策找人 API: the policies in force, the public policy calculator, and one enterprise's account.

Thin: policies are loaded once per app; each route calls `zhixiang.matching` and returns its values.
An enterprise's account reads its stored facts through the data hub, like `/data/entities`: public
fields for every staff caller, internal ones (营业收入, 纳税总额 …) only under a grant to the
caller's department for the stated purpose, and every such read audited.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from zhixiang.access import Principal
from zhixiang.api._auth import public, requires
from zhixiang.api.data import WarehouseDep, reader_of
from zhixiang.catalog import load_catalog
from zhixiang.demo import demo_policies_dir
from zhixiang.errors import ZhixiangError
from zhixiang.identity import IdentifierError, validate_credit_code
from zhixiang.matching import (
    EXPLAIN_PURPOSE,
    Calculator,
    MatchRow,
    compare_policies,
    explain_under_grants,
    load_run,
    open_results,
)
from zhixiang.rules import (
    ExpressionError,
    Policy,
    PolicyRejected,
    PolicySet,
    Value,
    literal_for_field,
    load_policies,
    parse_policy,
)

router = APIRouter(prefix="/policies", tags=["政策找人"])
Caller = Annotated[Principal, requires("policies.explain")]
Public = Annotated[Principal, public()]
_lock = threading.Lock()


def get_policies(request: Request) -> PolicySet:
    """The checked policies, loaded on first use from ZHIXIANG_POLICIES or the bundled demo set."""
    state = request.app.state
    if getattr(state, "policy_set", None) is None:
        with _lock:
            if getattr(state, "policy_set", None) is None:
                folder = state.settings.policies_dir or demo_policies_dir()
                state.policy_set = load_policies([folder])
    return state.policy_set


Policies = Annotated[PolicySet, Depends(get_policies)]


class CalculatorInput(BaseModel):
    facts: dict[str, Any] = Field(
        max_length=200,
        description='企业事实，键为字段中文名或英文名，金额带单位，如 {"营业收入": "3000万元", "高新技术企业": true}',
    )
    as_of: dt.date | None = Field(default=None, description="评估日期，默认今天")


@router.get("")
def list_policies(policy_set: Policies, _: Public) -> list[dict]:
    """Every policy that passed its checks, with its source clause and validity."""
    return [
        {
            "policy_id": p.id,
            "title": p.title,
            "summary": p.summary,
            "department": p.department,
            "source": f"{p.document} {p.clause}",
            "valid_from": p.valid_from,
            "valid_to": p.valid_to,
            "conditions": [
                {"id": c.id, "label": c.label, "expression": c.source} for c in p.conditions
            ],
            "benefit": None
            if p.benefit is None
            else {"amount": p.benefit.source, "cap": p.benefit.cap},
        }
        for p in policy_set.policies
    ]


@router.post("/calculate")
def calculate(body: CalculatorInput, policy_set: Policies, _: Public) -> dict:
    """政策计算器 for facts typed in by an enterprise; nothing is stored or looked up."""
    catalog = load_catalog("enterprise")
    facts: dict[str, Value] = {}
    for key, raw in body.facts.items():
        field = catalog.get(key)
        if field is None:
            raise HTTPException(422, f"未知字段: {key}")
        try:
            facts[field.name] = literal_for_field(field, raw)
        except ExpressionError as exc:
            raise HTTPException(422, exc.message) from None
    report = Calculator(policy_set.policies).evaluate(facts, body.as_of or dt.date.today())
    return report.to_dict()


@router.get("/enterprises/{credit_code}")
def explain(
    credit_code: str,
    request: Request,
    policy_set: Policies,
    caller: Caller,
    wh: WarehouseDep,
    purpose: Annotated[str, Query(max_length=200)] = EXPLAIN_PURPOSE,
    as_of: dt.date | None = None,
) -> dict:
    """One enterprise's account from the shared data, under the caller's grants.

    Internal fields the caller's department holds no grant for are withheld (listed in `withheld`),
    so the conditions that need them read as unknown; a read of internal fields is audited.
    """
    try:
        code = validate_credit_code(credit_code)
    except IdentifierError as exc:
        raise HTTPException(422, str(exc)) from None
    found = explain_under_grants(
        wh,
        _calculator(request, policy_set),
        code,
        as_of or dt.date.today(),
        reader=reader_of(caller),
        purpose=purpose,
        via=f"api:{caller.id}",
    )
    if found is None:
        raise HTTPException(404, f"没有统一社会信用代码为 {code} 的企业")
    report, shared = found
    return {
        **report.to_dict(),
        "purpose": purpose,
        "fields": shared.fields,
        "withheld": shared.withheld,
        "grants": shared.grants,
        "audit_seq": shared.audit_seq,
    }


@router.get("/summary")
def summary(request: Request, caller: Caller) -> list[dict]:
    """Per-policy counts of the current batch run."""
    try:
        run = load_run(request.app.state.settings.results_dir)
    except ZhixiangError as exc:
        raise HTTPException(exc.status, exc.message) from None
    return [
        {
            "run_id": run.run_id,
            "as_of": run.as_of,
            "policy_id": c.policy_id,
            "title": c.title,
            "eligible": c.eligible,
            "needs_information": c.needs_information,
            "ineligible": c.ineligible,
            "near_miss": c.near_miss,
            "total_amount": c.total_amount,
        }
        for c in run.policies
    ]


def _row(row: MatchRow) -> dict:
    return {
        "entity_id": row.entity_id,
        "policy_id": row.policy_id,
        "status": row.status,
        "failed": list(row.failed),
        "unknown": list(row.unknown),
        "closeness": None if row.closeness is None else str(row.closeness),
        "holds_on": None if row.holds_on is None else row.holds_on.isoformat(),
    }


@router.get("/near-misses")
def near_misses(
    request: Request,
    caller: Annotated[Principal, requires("policies.results")],
    policy_id: str | None = None,
    closeness: Annotated[Decimal, Query(ge=Decimal("0.5"), le=Decimal(1))] = Decimal("0.8"),
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
) -> dict:
    """差一项 of the current run, closest first: scope met, each missed threshold ≥ `closeness`.
    The gap of each condition is in the calculator's answer for the entity."""
    try:
        with open_results(request.app.state.settings.results_dir) as results:
            rows = results.near_misses(policy_id, limit, closeness)
            run = results.run
    except ZhixiangError as exc:
        raise HTTPException(exc.status, exc.message) from None
    return {
        "run_id": run.run_id,
        "as_of": run.as_of,
        "closeness": str(closeness),
        "rows": [_row(r) for r in rows],
    }


@router.get("/upcoming")
def upcoming(
    request: Request,
    caller: Annotated[Principal, requires("policies.results")],
    policy_id: str | None = None,
    days: Annotated[int, Query(ge=1, le=3660)] = 90,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
) -> dict:
    """即将符合: who qualifies within `days` of the run's date with no change, soonest first."""
    try:
        with open_results(request.app.state.settings.results_dir) as results:
            rows = results.upcoming(days, policy_id, limit)
            run = results.run
    except ZhixiangError as exc:
        raise HTTPException(exc.status, exc.message) from None
    return {"run_id": run.run_id, "as_of": run.as_of, "days": days, "rows": [_row(r) for r in rows]}


class CompareInput(BaseModel):
    old: str | None = Field(
        default=None, max_length=200, description="原版本：已加载政策的编号（与 old_yaml 二选一）"
    )
    old_yaml: str | None = Field(default=None, max_length=200_000, description="原版本政策文件全文")
    new_yaml: str = Field(max_length=200_000, description="新版本政策文件全文（如提高门槛后）")
    as_of: dt.date | None = Field(default=None, description="评估日期，默认今天")


def _parsed(text: str, name: str) -> Policy:
    try:
        return parse_policy(text, Path(name))
    except PolicyRejected as exc:
        raise HTTPException(422, [str(p) for p in exc.problems]) from None


@router.post("/compare")
def compare(
    body: CompareInput,
    request: Request,
    policy_set: Policies,
    caller: Annotated[Principal, requires("policies.compare")],
) -> dict:
    """政策调整测算: two versions over the same warehouse; chart-ready counts by change, district and
    industry, and the total cost change. Nothing is stored."""
    if body.old_yaml is not None:
        old = _parsed(body.old_yaml, "old.yaml")
    elif body.old is not None:
        found = [p for p in policy_set.policies if p.id == body.old]
        if not found:
            raise HTTPException(404, f"没有编号为 {body.old} 的政策")
        old = found[0]
    else:
        raise HTTPException(422, "请给出原版本：old（政策编号）或 old_yaml（政策文件全文）")
    new = _parsed(body.new_yaml, "new.yaml")
    try:
        result = compare_policies(
            request.app.state.settings.warehouse_url, old, new, body.as_of or dt.date.today()
        )
    except ZhixiangError as exc:
        raise HTTPException(exc.status, exc.message) from None
    return result.to_dict()


def _calculator(request: Request, policy_set: PolicySet) -> Calculator:
    """One calculator per app, so that evaluations of the same facts are remembered."""
    state = request.app.state
    if getattr(state, "calculator", None) is None:
        with _lock:
            if getattr(state, "calculator", None) is None:
                state.calculator = Calculator(policy_set.policies)
    return state.calculator
