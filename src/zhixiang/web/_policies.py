"""政策 pages: the policies in force, one policy's conditions and tests, batch matching with a
progress bar, a policy's eligible / needs-information / near-miss lists, and the calculator.

Matching runs in a background thread of the server (one run at a time per app) so the page can
show its progress; the run itself is `zhixiang.matching.run_matching`, as on the command line, and
the lists are pages of the published run (`open_results`), sorted and counted by the engine.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from zhixiang.access import Principal
from zhixiang.api import requires
from zhixiang.errors import Conflict, InvalidInput, NotFound, ZhixiangError
from zhixiang.identity import IdentifierError, validate_credit_code
from zhixiang.matching import MatchRun, load_run, open_results, run_matching
from zhixiang.rules import format_money, format_value, run_policy_tests
from zhixiang.web._app import redirect, render
from zhixiang.web._calculator import STATUS_LABELS, as_of_from, evaluate, facts_from, questions
from zhixiang.web._capabilities import explain_enterprise, policies
from zhixiang.web._export import MAX_ROWS as MAX_EXPORT
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


def _summary(request: Request) -> dict[str, Any]:
    """Per-policy counts of the current batch run (empty before the first run)."""
    try:
        run = load_run(request.app.state.settings.results_dir)
    except ZhixiangError:
        return {}
    return {c.policy_id: c for c in run.policies}


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
            try:
                found = explain_enterprise(request, user, code, as_of)
            except ZhixiangError as exc:
                form.refuse("credit_code", exc.message)
            else:
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
            job.run = run_matching(
                settings.warehouse_url,
                in_force,
                as_of,
                results_dir=settings.results_dir,
                keep=settings.results_keep,
                progress=step,
                memory_limit=settings.match_memory_limit,
                threads=settings.match_threads or None,
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


RESULT_KINDS = {
    "eligible": "符合条件",
    "needs_information": "待补充信息",
    "near_miss": "差一项",
    "upcoming": "即将符合",
}
RESULT_ORDERS = {
    "entity_id": "统一社会信用代码",
    "amount": "金额",
    "status": "结论",
    "closeness": "接近程度",
    "holds_on": "符合日期",
}
#: 即将符合: who qualifies within this many days of the run's date with no change.
UPCOMING_DAYS = 90
PAGE = 100
RESULTS_PAGE = 10_000  # the most rows one call of `Results.rows` returns


@router.get("/{policy_id}/results")
def results_page(
    request: Request,
    user: Results,
    policy_id: str,
    kind: str = "near_miss",
    order: str = "entity_id",
    desc: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    format: str | None = None,
) -> Response:
    """One list of the current run for a policy: sorted by the engine, paged, exportable whole."""
    policy = policies(request).by_id(policy_id)
    if policy is None:
        raise NotFound(f"没有编号为 {policy_id} 的政策", "policy_id")
    if kind not in RESULT_KINDS:
        raise InvalidInput(f"名单应为 {'、'.join(RESULT_KINDS.values())} 之一", "kind")
    labels = {c.id: c.label for c in policy.conditions} | {"amount": "金额所需信息"}
    if order not in RESULT_ORDERS:
        raise InvalidInput(f"排序应为 {'、'.join(RESULT_ORDERS.values())} 之一", "order")
    pages: Sequence[int]
    with open_results(request.app.state.settings.results_dir) as results:
        if kind == "upcoming":  # soonest first, not paged: the engine ranks them by date
            found = results.upcoming(UPCOMING_DAYS, policy_id, RESULTS_PAGE)
            total, pages = len(found), []
        else:
            total = results.count(policy_id, kind)  # type: ignore[arg-type]
            found = []
            pages = (
                range(0, min(total, MAX_EXPORT), RESULTS_PAGE) if format else [(page - 1) * PAGE]
            )
        for start in pages:
            found += results.rows(
                policy_id,
                kind,  # type: ignore[arg-type]
                order_by=order,
                descending=desc,
                limit=RESULTS_PAGE if format else PAGE,
                offset=start,
            )
        run = results.run
    rows = [
        {
            "entity_id": r.entity_id,
            "status": STATUS_LABELS.get(r.status, r.status),
            "failed": "、".join(labels.get(c, c) for c in r.failed),
            "unknown": "、".join(labels.get(c, c) for c in r.unknown),
            "amount": r.amount,
            "closeness": None if r.closeness is None else f"{float(r.closeness) * 100:.0f}%",
            "holds_on": r.holds_on,
        }
        for r in found
    ]
    if kind == "upcoming" and not format:
        rows = rows[(page - 1) * PAGE : page * PAGE]
    if format:
        columns = (
            ("entity_id", "统一社会信用代码"),
            ("status", "结论"),
            ("failed", "未满足的条件"),
            ("unknown", "待补充"),
            ("amount", "金额（元）"),
            ("closeness", "接近程度"),
            ("holds_on", "符合日期"),
        )
        return export(rows, columns, f"{policy.title}-{RESULT_KINDS[kind]}", format)
    return render(
        request,
        "policies/results.html",
        user=user,
        policy=policy,
        run=run,
        rows=rows,
        kind=kind,
        kinds=RESULT_KINDS,
        order=order,
        orders=RESULT_ORDERS,
        desc=desc,
        page=page,
        pages=max(1, -(-total // PAGE)),
        total=total,
        upcoming_days=UPCOMING_DAYS,
    )


@router.get("/{policy_id}/near-misses")
def near_miss_page(request: Request, user: Results, policy_id: str) -> Response:
    """差一项: the near-miss list of the current run (kept as an address people have bookmarked)."""
    return redirect(f"/app/policies/{policy_id}/results?kind=near_miss")
