"""政策 pages: the policies in force, one policy's conditions and tests, batch matching with a
progress bar, the near-miss list of a policy, and the calculator for one enterprise.

Matching runs in a background thread of the server (one run at a time per app) so the page can
show its progress; the run itself is `zhixiang.matching.run_matching`, as on the command line.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response

from zhixiang.access import Principal
from zhixiang.api._auth import requires
from zhixiang.errors import Conflict, NotFound, ZhixiangError
from zhixiang.identity import IdentifierError, validate_credit_code
from zhixiang.matching import SUMMARY, Calculator, MatchRun, connect, near_misses, run_matching
from zhixiang.rules import format_money, format_value, run_policy_tests
from zhixiang.web._app import redirect, render
from zhixiang.web._calculator import STATUS_LABELS, as_of_from, evaluate, facts_from, questions
from zhixiang.web._capabilities import policies
from zhixiang.web._export import export
from zhixiang.web._forms import Form

router = APIRouter(prefix="/app/policies", include_in_schema=False)
Staff = Annotated[Principal, requires("policies.explain")]
Matcher = Annotated[Principal, requires("policies.match")]
Results = Annotated[Principal, requires("policies.results")]


@dataclass
class MatchJob:
    """One batch run started from the page: how far it got, and what it found."""

    as_of: dt.date
    started_by: str
    total: int
    done: int = 0
    current: str = ""
    run: MatchRun | None = None
    error: str | None = None
    started_at: dt.datetime = field(default_factory=dt.datetime.now)

    @property
    def finished(self) -> bool:
        return self.run is not None or self.error is not None


_job_lock = threading.Lock()


def _summary(request: Request) -> dict[str, dict[str, Any]]:
    """Per-policy counts of the last batch run, as the API's /policies/summary gives them."""
    con = connect(request.app.state.settings.warehouse_url)
    if SUMMARY not in con.list_tables():
        return {}
    return {row["policy_id"]: row for row in con.table(SUMMARY).to_pyarrow().to_pylist()}


@router.get("")
def policy_list(request: Request, user: Staff) -> Response:
    policy_set = policies(request)
    today = dt.date.today()
    return render(
        request,
        "policies/list.html",
        user=user,
        policies=policy_set.policies,
        problems=policy_set.problems,
        summary=_summary(request) if user.can("policies.summary") else {},
        today=today,
    )


@router.get("/calculator")
def staff_calculator(request: Request, user: Staff) -> Response:
    return _calculator_page(request, user, Form(dict(request.query_params)))


@router.post("/calculator")
async def staff_calculate(request: Request, user: Staff) -> Response:
    """For typed facts, or for one enterprise's stored facts found by its 统一社会信用代码."""
    form = Form.of(await request.form(), max_length=200)
    return _calculator_page(request, user, form, submitted=True)


def _calculator_page(
    request: Request, user: Principal, form: Form, submitted: bool = False
) -> Response:
    in_force = policies(request).policies
    asked = questions(in_force)
    report = None
    as_of = as_of_from(form)
    code = form.get("credit_code")
    if submitted and code:
        try:
            code = validate_credit_code(code)
        except IdentifierError as exc:
            form.refuse("credit_code", str(exc))
        else:
            con = connect(request.app.state.settings.warehouse_url)
            if "enterprise" not in con.list_tables():
                form.refuse("credit_code", "数据仓库中还没有企业数据")
            else:
                found = Calculator(in_force, con.table("enterprise")).explain(code, as_of)
                if found is None:
                    form.refuse("credit_code", f"没有统一社会信用代码为 {code} 的企业")
                else:
                    report = found.to_dict()
    elif submitted:
        facts = facts_from(form, asked)
        if form.ok:
            report = evaluate(in_force, facts, as_of)
    return render(
        request,
        "policies/calculator.html",
        200 if form.ok else 422,
        user=user,
        form=form,
        questions=asked,
        report=report,
        status_labels=STATUS_LABELS,
        action="/app/policies/calculator",
        staff=True,
    )


def _job(request: Request) -> MatchJob | None:
    return getattr(request.app.state, "match_job", None)


@router.get("/match")
def match_page(request: Request, user: Matcher) -> Response:
    return render(
        request,
        "policies/match.html",
        user=user,
        job=_job(request),
        form=Form({"as_of": dt.date.today().isoformat()}),
    )


@router.post("/match")
async def start_match(request: Request, user: Matcher) -> Response:
    """Start one batch run in the background; a second start while one runs is refused."""
    form = Form.of(await request.form(), max_length=20)
    as_of = as_of_from(form)
    if not form.ok:
        return render(request, "policies/match.html", 422, user=user, job=_job(request), form=form)
    settings = request.app.state.settings
    in_force = [p for p in policies(request).policies if p.in_force(as_of)]
    with _job_lock:
        current = _job(request)
        if current is not None and not current.finished:
            raise Conflict("已有一批匹配正在运行，请等它完成", "as_of")
        job = request.app.state.match_job = MatchJob(as_of, user.actor, len(in_force))

    def work() -> None:
        def step(policy: Any) -> None:
            job.done += 1
            job.current = policy.title

        try:
            con = connect(settings.warehouse_url)
            if "enterprise" not in con.list_tables():
                raise NotFound("数据仓库中还没有企业数据（请先导入或运行 zhixiang demo）")
            job.run = run_matching(
                con, in_force, as_of, results_dir=settings.results_dir, progress=step
            )
        except ZhixiangError as exc:
            job.error = exc.message
        except Exception as exc:  # a failed run is shown on the page, never lost in a log
            job.error = f"匹配失败：{exc}"

    threading.Thread(target=work, name="zhixiang-match", daemon=True).start()
    return redirect("/app/policies/match")


@router.get("/match/progress")
def match_progress(request: Request, user: Matcher) -> Response:
    """The progress bar (an htmx fragment polled while the run lasts)."""
    return render(request, "policies/_progress.html", user=user, job=_job(request))


@router.get("/{policy_id}")
def policy_page(request: Request, user: Staff, policy_id: str) -> Response:
    policy = policies(request).by_id(policy_id)
    if policy is None:
        raise NotFound(f"没有编号为 {policy_id} 的政策", "policy_id")
    problems = run_policy_tests(policy)
    parameters = [
        (p.name, [(start, format_value(value, p.type)) for start, value in p.versions])
        for p in policy.parameters.values()
    ]
    return render(
        request,
        "policies/detail.html",
        user=user,
        policy=policy,
        problems=problems,
        parameters=parameters,
        summary=_summary(request).get(policy.id) if user.can("policies.summary") else None,
        status_labels=STATUS_LABELS,
        format_money=format_money,
    )


@router.get("/{policy_id}/near-misses")
def near_miss_page(
    request: Request, user: Results, policy_id: str, format: str | None = None
) -> Response:
    """差一项: who fails exactly one condition of this policy, and which one."""
    policy = policies(request).by_id(policy_id)
    if policy is None:
        raise NotFound(f"没有编号为 {policy_id} 的政策", "policy_id")
    labels = {c.id: c.label for c in policy.conditions}
    con = connect(request.app.state.settings.warehouse_url)
    rows = []
    if "matches" in con.list_tables():
        for row in near_misses(con, policy_id, limit=5000):
            failed = list(row.get("failed") or [])
            rows.append(
                {
                    "entity_id": row["entity_id"],
                    "failed": "、".join(labels.get(c, c) for c in failed),
                    "unknown": "、".join(labels.get(c, c) for c in row.get("unknown") or []),
                }
            )
    if format:
        columns = (
            ("entity_id", "统一社会信用代码"),
            ("failed", "未满足的条件"),
            ("unknown", "待补充"),
        )
        return export(rows, columns, f"{policy.title}-差一项", format)
    return render(request, "policies/near_misses.html", user=user, policy=policy, rows=rows)
