"""企业服务 portal: the 政策计算器 for anyone; for an enterprise's own account 我的政策, its
免申即享 notices (意愿确认, 异议) and its applications for 申请审核 policies.

Typed facts are evaluated and forgotten. Signed in as the enterprise, the same calculator runs on
what the government already knows about it, read through the data hub as the enterprise reading
its own record (audited), for its own code only. Notices are the grant ledger's, applications the
review desk's: this module lays out their answers and puts their refusals next to the fields.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Request, Response

from zhixiang.access import Principal
from zhixiang.api import requires
from zhixiang.catalog import load_catalog
from zhixiang.datahub import open_warehouse, read_own_record
from zhixiang.matching import facts_from_row
from zhixiang.web._app import anyone, check_public_form, render
from zhixiang.web._calculator import STATUS_LABELS, as_of_from, evaluate, facts_from, questions
from zhixiang.web._capabilities import calculator, policies
from zhixiang.web._forms import Form

router = APIRouter(prefix="/qiye", include_in_schema=False)
Anyone = Annotated[Principal, anyone()]
Enterprise = Annotated[Principal, requires("portal.enterprise")]


@router.get("")
def portal(request: Request, user: Anyone) -> Response:
    return render(request, "qiye/home.html", user=user)


def _calculator(request: Request, user: Principal, form: Form, submitted: bool) -> Response:
    in_force = policies(request).policies
    asked = questions(in_force)
    report = None
    if submitted:
        as_of = as_of_from(form)
        facts = facts_from(form, asked)
        if not facts and form.ok:
            form.message = "请至少填写一项企业情况"
        if form.ok:
            report = evaluate(in_force, facts, as_of)
    return render(
        request,
        "qiye/calculator.html",
        200 if form.ok else 422,
        user=user,
        form=form,
        questions=asked,
        report=report,
        status_labels=STATUS_LABELS,
        action="/qiye/calculator",
        staff=False,
    )


@router.get("/calculator")
def calculator_page(request: Request, user: Anyone) -> Response:
    return _calculator(request, user, Form(), submitted=False)


@router.post("/calculator")
async def calculate(request: Request, user: Anyone) -> Response:
    await check_public_form(request)
    return _calculator(request, user, Form.of(await request.form(), max_length=100), True)


@router.get("/mine")
def my_policies(request: Request, user: Enterprise) -> Response:
    """我的政策: eligible, near-miss with the gap, upcoming and still unknown, from the facts the data
    hub holds on this enterprise (its own record, read as itself and audited)."""
    report = None
    if user.subject:
        with open_warehouse(request.app.state.settings.warehouse_url) as wh:
            row = read_own_record(wh, "enterprise", user.subject, via=f"web:{user.id}")
        rows = row.table.to_pylist()
        if rows:
            facts = facts_from_row(load_catalog("enterprise"), rows[0])
            found = calculator(request).evaluate(facts, dt.date.today(), user.subject)
            report = found.to_dict()
    groups = _groups(report["policies"]) if report else {}
    return render(
        request,
        "qiye/mine.html",
        user=user,
        report=report,
        groups=groups,
        status_labels=STATUS_LABELS,
    )


def _groups(verdicts: list[dict]) -> dict[str, list[dict]]:
    """The report's policies under the headings an enterprise reads: 可享受, 差一点 (near-miss, with
    the gap), 即将符合 (a date condition that will hold), 待补充信息."""
    groups: dict[str, list[dict]] = {"eligible": [], "near": [], "upcoming": [], "unknown": []}
    for p in verdicts:
        if p["status"] == "eligible":
            groups["eligible"].append(p)
        elif p["holds_on"]:
            groups["upcoming"].append(p)
        elif p["near_miss"]:
            groups["near"].append(p)
        elif p["status"] == "needs_information":
            groups["unknown"].append(p)
    return groups
