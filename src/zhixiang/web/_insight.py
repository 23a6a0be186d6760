"""主动发现 pages: 热点问题 with their heat, 预警 (surge alerts) with the test that raised them and
what to do about them (未诉先办, 关闭), and 答复质量 per department beside the 三率.

The figures are `zhixiang.insight`'s, over the ticket store, as the API's `/insight` routes give
them; this module picks what the person may see and turns it into tables and charts. A handler
sees the topics that touch their department's tickets, the alerts routed to it, and its own
replies' quality; the hotline centre and leaders see the whole city.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from zhixiang.access import Principal
from zhixiang.api import requires
from zhixiang.errors import InvalidInput, ZhixiangError
from zhixiang.insight import (
    ReplyScorer,
    SurgeSettings,
    messages_from_store,
    scan,
    store_reply_quality,
    ticket_views,
    topic_trends,
)
from zhixiang.tickets import SearchFilters
from zhixiang.web._app import redirect, render
from zhixiang.web._capabilities import alerts, store
from zhixiang.web._export import export
from zhixiang.web._forms import Form

router = APIRouter(prefix="/app/insight", include_in_schema=False)
Reader = Annotated[Principal, requires("insight.read")]
Actor = Annotated[Principal, requires("insight.act")]
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]

PERIODS = {"30": "近30天", "90": "近90天", "365": "近一年"}
STATUSES = {"open": "待处理", "task": "已生成主动任务", "closed": "已关闭"}
#: How many topics the page ranks, and how many of them get a heat curve.
TOP, CURVES = 20, 5
#: A topic's ticket links shown in its row (the rest are counted).
LINKS = 8
_PAGE = 500
_SEARCH_CAP = 20_000


def _since(period: str) -> datetime:
    if period not in PERIODS:
        raise InvalidInput(f"统计区间应为 {'、'.join(PERIODS)} 天之一", "days")
    return datetime.now(UTC) - timedelta(days=int(period))


def _visible_ids(request: Request, user: Principal, since: datetime) -> set[str] | None:
    """Ids of the period's tickets the person may open; None for the citywide (all of them)."""
    if user.citywide:
        return None
    tickets, seen = store(request), set[str]()
    while len(seen) < _SEARCH_CAP:
        page = tickets.search(user, SearchFilters(since=since, limit=_PAGE, offset=len(seen)))
        seen |= {str(t.id) for t in page}
        if len(page) < _PAGE:
            break
    return seen


def _subnav(current: str) -> list[tuple[str, str, bool]]:
    pages = (
        ("/app/insight", "热点问题"),
        ("/app/insight/alerts", "预警"),
        ("/app/insight/replies", "答复质量"),
    )
    return [(href, label, href == current) for href, label in pages]


# -- 热点问题 ---------------------------------------------------------------------------------------


def _heat_chart(trends: list[Any]) -> dict | None:
    shown = [t for t in trends[:CURVES] if t.weeks]
    if not shown:
        return None
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "type": "scroll"},
        "grid": {"left": 8, "right": 16, "bottom": 8, "top": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": shown[0].weeks, "name": "周"},
        "yAxis": {"type": "value", "name": "热度指数"},
        "series": [
            {"name": f"{t.topic.rank}. {t.topic.title}"[:24], "type": "line", "data": t.heat}
            for t in shown
        ],
    }


def _topic_rows(
    request: Request, user: Principal, since: datetime, top: int
) -> tuple[list[dict[str, Any]], int]:
    """The period's hottest topics with their weekly heat, each with the tickets the person may
    open (a topic with none of those is left out); and how many tickets were read."""
    messages = messages_from_store(store(request), since=since)
    visible = _visible_ids(request, user, since)
    rows = []
    for trend in topic_trends(messages, top=top, weeks=12):
        mine = [i for i in trend.topic.message_ids if visible is None or i in visible]
        if mine:
            rows.append({"topic": trend.topic, "trend": trend, "tickets": mine})
    return rows, len(messages)


def dashboard_panel(request: Request, user: Principal, since: datetime) -> dict[str, Any]:
    """主动发现 on the 驾驶舱: the five hottest topics of the period and the open alerts."""
    rows, _ = _topic_rows(request, user, since, 5)
    open_alerts = [
        a
        for a in alerts(request).list("open", 200)
        if a.department is None or user.sees_department(a.department)
    ]
    return {"topics": [r["topic"] for r in rows], "open_alerts": len(open_alerts)}


TOPIC_COLUMNS = (
    ("rank", "排名"),
    ("heat", "热度指数"),
    ("title", "问题"),
    ("place", "地点"),
    ("time_range", "时间范围"),
    ("size", "留言数"),
    ("reporters", "反映人数"),
    ("growth", "增长系数"),
    ("representatives", "代表性诉求"),
    ("tickets", "工单编号"),
)


@router.get("")
async def hot_topics(
    request: Request, user: Reader, days: str = "90", format: str | None = None
) -> Response:
    since = _since(days)
    rows, total = await run_in_threadpool(_topic_rows, request, user, since, TOP)
    if format is not None:
        table = [
            {
                **{key: getattr(r["topic"], key, None) for key, _ in TOPIC_COLUMNS},
                "representatives": "；".join(r["topic"].representatives),
                "tickets": "、".join(r["tickets"]),
            }
            for r in rows
        ]
        return export(table, TOPIC_COLUMNS, "热点问题", format)
    return render(
        request,
        "insight/topics.html",
        user=user,
        subnav=_subnav("/app/insight"),
        rows=rows,
        total=total,
        days=days,
        periods=PERIODS,
        heat_chart=_heat_chart([r["trend"] for r in rows]),
        links=LINKS,
    )


# -- 预警 -------------------------------------------------------------------------------------------


def _method() -> dict[str, SurgeSettings]:
    """The thresholds the scan applies to each kind of series (its own defaults)."""
    parameters = inspect.signature(scan).parameters
    return {
        "area_category": parameters["area_settings"].default,
        "topic": parameters["topic_settings"].default,
    }


def _alerts_page(
    request: Request,
    user: Principal,
    status: str | None,
    notice: str | None = None,
    code: int = 200,
    form: Form | None = None,
    form_alert: int | None = None,
) -> Response:
    """The alert list; after a refused action, its message above the list (or next to the note
    of the alert whose close form it was)."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"状态应为 {'、'.join(STATUSES)} 之一", "status")
    found = [
        a
        for a in alerts(request).list(status, 200)
        if a.department is None or user.sees_department(a.department)
    ]
    directory = request.app.state.access.directory
    return render(
        request,
        "insight/alerts.html",
        code,
        user=user,
        subnav=_subnav("/app/insight/alerts"),
        alerts=found,
        chosen=status,
        statuses=STATUSES,
        method=_method(),
        department_of=lambda code: directory.name_of(code) if code else "",
        notice=notice,
        form=form or Form(),
        form_alert=form_alert,
    )


def _refused(request: Request, user: Principal, exc: ZhixiangError) -> Response:
    form = Form()
    form.message = exc.message
    return _alerts_page(request, user, None, code=exc.status, form=form)


@router.get("/alerts")
def alert_list(
    request: Request, user: Reader, status: str | None = None, notice: str | None = None
) -> Response:
    return _alerts_page(request, user, status or None, notice)


@router.post("/alerts/scan")
async def alert_scan(request: Request, user: Actor) -> Response:
    """Replay the last year's tickets through the surge test; new alerts are stored once."""
    since = datetime.now(UTC) - timedelta(days=365)

    def run() -> tuple[int, int, int]:
        tickets = store(request)
        messages = messages_from_store(tickets, since=since)
        categories = {str(v.id): v.category or "未分类" for v in ticket_views(tickets, since)}
        surges = scan(messages, [categories.get(m.id, "未分类") for m in messages])
        created, updated = alerts(request).record(surges)
        return len(messages), len(created), len(updated)

    read, created, updated = await run_in_threadpool(run)
    notice = f"已扫描 {read} 件工单：新预警 {created} 条，更新 {updated} 条"
    return redirect("/app/insight/alerts?notice=" + quote(notice))


@router.post("/alerts/{alert_id}/task")
async def alert_task(request: Request, user: Actor, alert_id: AlertId) -> Response:
    """未诉先办: a proactive ticket routed like any other; the alert remembers it."""
    try:
        alert = await run_in_threadpool(alerts(request).open_task, alert_id, store(request), user)
    except ZhixiangError as exc:
        return _refused(request, user, exc)
    return redirect(
        f"/app/tickets/{alert.ticket_id}?notice=" + quote(f"已为预警 #{alert_id} 生成主动任务")
    )


@router.post("/alerts/{alert_id}/close")
async def alert_close(request: Request, user: Actor, alert_id: AlertId) -> Response:
    """关闭 an alert that needs no task (a known event, handled elsewhere), saying why."""
    form = Form.of(await request.form(), max_length=1000)
    note = form.get("note")
    if note is None:
        form.refuse("note", "请写明关闭的理由（如：已知事件，已由某部门处置）")
    elif len(note) > 500:
        form.refuse("note", "过长：最多 500 个字符")
    if not form.ok:
        return _alerts_page(request, user, None, code=422, form=form, form_alert=alert_id)
    try:
        alerts(request).close_alert(alert_id, note)
    except ZhixiangError as exc:
        return _refused(request, user, exc)
    return redirect("/app/insight/alerts?notice=" + quote(f"已关闭预警 #{alert_id}"))


# -- 答复质量 ---------------------------------------------------------------------------------------

QUALITY_COLUMNS = (
    ("department_name", "部门"),
    ("replies", "答复数"),
    ("mean_total", "平均总分"),
    ("weak", "待改进答复"),
    ("weak_share", "待改进占比"),
    ("relevance", "切题"),
    ("completeness", "完整"),
    ("explanation", "解释"),
    ("timeliness", "及时"),
    ("tone", "态度"),
)


def _quality_chart(rows: list[Any]) -> dict | None:
    if not rows:
        return None
    names = [q.department_name or q.department for q in rows]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 8, "bottom": 8, "top": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": names, "axisLabel": {"interval": 0, "rotate": 30}},
        "yAxis": [
            {"type": "value", "name": "平均总分", "min": 0, "max": 1},
            {"type": "value", "name": "待改进%", "min": 0, "max": 100},
        ],
        "series": [
            {"name": "平均总分", "type": "bar", "data": [q.mean_total for q in rows]},
            {
                "name": "待改进占比",
                "type": "line",
                "yAxisIndex": 1,
                "data": [round(100 * q.weak_share, 1) for q in rows],
            },
        ],
    }


@router.get("/replies")
async def reply_quality(
    request: Request, user: Reader, days: str = "90", format: str | None = None
) -> Response:
    since = _since(days)
    found = await run_in_threadpool(store_reply_quality, store(request), since)
    rows = [q for q in found if user.sees_department(q.department)]
    if format is not None:
        return export(
            [{**asdict(q), "weak_share": round(q.weak_share, 4)} for q in rows],
            QUALITY_COLUMNS,
            "答复质量",
            format,
        )
    return render(
        request,
        "insight/replies.html",
        user=user,
        subnav=_subnav("/app/insight/replies"),
        rows=rows,
        days=days,
        periods=PERIODS,
        chart=_quality_chart(rows),
    )


@router.get("/replies/score")
def score_form(request: Request, user: Reader) -> Response:
    return render(
        request,
        "insight/score.html",
        user=user,
        subnav=_subnav("/app/insight/replies"),
        form=Form(),
        score=None,
        weak=None,
    )


@router.post("/replies/score")
async def score_draft(request: Request, user: Reader) -> Response:
    """A draft reply scored before it is sent: the five parts, the total and what is missing."""
    form = Form.of(await request.form(), max_length=20_001)
    limits = {"title": 500, "body": 20_000, "reply": 20_000}
    for name, limit in limits.items():
        value = form.values.get(name, "")
        if len(value) > limit:
            form.refuse(name, f"过长：最多 {limit} 个字符")
    for name, label in (("title", "诉求标题"), ("reply", "答复意见")):
        if form.get(name) is None:
            form.refuse(name, f"请填写{label}")
    score = weak = None
    if form.ok:
        scorer = ReplyScorer()
        score = scorer.score(
            form.get("title") or "", form.get("body") or "", form.get("reply") or ""
        )
        weak = scorer.is_weak(score)
    return render(
        request,
        "insight/score.html",
        200 if form.ok else 422,
        user=user,
        subnav=_subnav("/app/insight/replies"),
        form=form,
        score=score,
        weak=weak,
    )
