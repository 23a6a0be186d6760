"""企业服务 portal: the 政策计算器 for anyone, and 我的政策 for an enterprise's own account.

Typed facts are evaluated and forgotten. Signed in as the enterprise, the same calculator runs on
what the government already knows about it (the data hub's entity table), for its own code only.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Request, Response

from zhixiang.access import Principal
from zhixiang.api import requires
from zhixiang.matching import Calculator, connect
from zhixiang.web._app import anyone, check_public_form, render
from zhixiang.web._calculator import STATUS_LABELS, as_of_from, evaluate, facts_from, questions
from zhixiang.web._capabilities import policies
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
    """我的政策: eligible, near-miss with the gap, and what is still unknown, from stored facts."""
    con = connect(request.app.state.settings.warehouse_url)
    report = None
    if user.subject and "enterprise" in con.list_tables():
        found = Calculator(policies(request).policies, con.table("enterprise")).explain(
            user.subject, dt.date.today()
        )
        report = found.to_dict() if found else None
    return render(request, "qiye/mine.html", user=user, report=report, status_labels=STATUS_LABELS)
