"""惠民政策找人 API: one household's account and its 一件事 bundles (policies grouped by life event).

Thin: each route calls `zhixiang.matching`; names and 身份证号 come masked unless the caller's
department holds a clear grant, and every call leaves audit records (one per policy read).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request

from zhixiang.access import Principal
from zhixiang.api._auth import requires
from zhixiang.demo import resident_policies_dir
from zhixiang.errors import ZhixiangError
from zhixiang.identity import IdentifierError, validate_id_number
from zhixiang.matching import HouseholdReport, explain_resident
from zhixiang.rules import PolicySet, load_policies

router = APIRouter(prefix="/residents", tags=["惠民政策找人"])
Caller = Annotated[Principal, requires("policies.explain")]
_lock = threading.Lock()


def get_resident_policies(request: Request) -> PolicySet:
    """The resident policies, loaded and checked once per app."""
    state = request.app.state
    if getattr(state, "resident_policy_set", None) is None:
        with _lock:
            if getattr(state, "resident_policy_set", None) is None:
                state.resident_policy_set = load_policies([resident_policies_dir()])
    return state.resident_policy_set


Policies = Annotated[PolicySet, Depends(get_resident_policies)]


def _report(
    request: Request,
    policy_set: PolicySet,
    caller: Principal,
    as_of: dt.date | None,
    household_id: str | None = None,
    id_number: str | None = None,
) -> HouseholdReport:
    try:
        report = explain_resident(
            request.app.state.settings.warehouse_url,
            policy_set.policies,
            as_of or dt.date.today(),
            reader=caller.department or caller.actor,
            household_id=household_id,
            id_number=id_number,
            via=caller.actor,
        )
    except ZhixiangError as exc:
        raise HTTPException(exc.status, exc.message) from None
    except Exception as exc:  # a warehouse without resident tables, or a server that is down
        raise HTTPException(503, f"居民数据暂时无法读取: {exc}") from None
    if report is None:
        raise HTTPException(404, "没有这一户（或该身份证号不在任何户中）")
    return report


def _person(id_number: str) -> str:
    try:
        return validate_id_number(id_number)
    except IdentifierError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/households/{household_id}")
def household(
    household_id: str,
    request: Request,
    policy_set: Policies,
    caller: Caller,
    as_of: dt.date | None = None,
) -> dict:
    """Every resident policy for one household, each condition with the members' values."""
    return _report(request, policy_set, caller, as_of, household_id=household_id).to_dict()


@router.get("/persons/{id_number}")
def person(
    id_number: str,
    request: Request,
    policy_set: Policies,
    caller: Caller,
    as_of: dt.date | None = None,
) -> dict:
    """The account of the household a person (身份证号) belongs to."""
    return _report(request, policy_set, caller, as_of, id_number=_person(id_number)).to_dict()


@router.get("/households/{household_id}/life-events")
def household_life_events(
    household_id: str,
    request: Request,
    policy_set: Policies,
    caller: Caller,
    as_of: dt.date | None = None,
) -> dict:
    """一件事: what the household qualifies for, by life event, with what each needs next."""
    data = _report(request, policy_set, caller, as_of, household_id=household_id).to_dict()
    return {k: data[k] for k in ("household_id", "as_of", "masked", "members", "life_events")}
