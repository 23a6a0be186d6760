"""驾驶舱 for leaders: 三率 and timeliness by department, ticket volume by category over time,
policy reach, and the 一图掌握 map of 厦门市 coloured by a chosen measure, drilling into streets.

The figures are the ticket store's (`metrics`, `search`) and the last match run's; this module
only counts what they return into chart series. A handler sees their own department only.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response

from zhixiang.access import Principal
from zhixiang.api import requires
from zhixiang.errors import Forbidden, InvalidInput, ZhixiangError
from zhixiang.identity import XIAMEN_DISTRICTS
from zhixiang.matching import load_run, open_results
from zhixiang.tickets import SearchFilters, TicketView
from zhixiang.web._app import render
from zhixiang.web._capabilities import store
from zhixiang.web._grants import ledger
from zhixiang.web._insight import dashboard_panel
from zhixiang.web._policies import _summary
from zhixiang.web._regions import DISTRICT_POPULATION_10K, registered_district, street_options
from zhixiang.web._time import local

router = APIRouter(prefix="/app/dashboard", include_in_schema=False)
Metrics = Annotated[Principal, requires("tickets.metrics")]

PERIODS = {"7": "近7天", "30": "近30天", "90": "近90天"}
MEASURES = {
    "count": "工单数",
    "per10k": "每万人工单数",
    "overdue": "超期占比（%）",
    "open": "在办工单数",
    "eligible": "符合政策企业数",
    "amount": "可享政策金额（万元）",
    "granted": "已兑现金额（万元）",
}
#: Measures from the latest match run, for those who may see its summary.
REACH_MEASURES = ("eligible", "amount")
#: Measures from the 免申即享 ledger, for those who may read it.
GRANT_MEASURES = ("granted",)
#: Eligible rows read per policy for the map (a city's enterprises, not a country's).
MAX_ELIGIBLE = 200_000
#: The volume chart reads at most this many tickets of the period (the store pages at 500).
MAX_TICKETS = 20_000
_PAGE = 500


def _tickets(
    request: Request, user: Principal, since: dt.datetime
) -> tuple[list[TicketView], bool]:
    tickets = store(request)
    found: list[TicketView] = []
    while len(found) < MAX_TICKETS:
        page = tickets.search(user, SearchFilters(since=since, limit=_PAGE, offset=len(found)))
        found += page
        if len(page) < _PAGE:
            return found, False
    return found, True


def _percent(rate: Any) -> float | None:
    return None if rate.value is None else round(rate.value * 100, 1)


def _rates_chart(report: Any) -> dict:
    names = [d.name for d in report.departments]
    series = [
        ("响应率", "response_rate"),
        ("解决率", "resolution_rate"),
        ("满意率", "satisfaction_rate"),
        ("按时签收率", "on_time_sign_rate"),
        ("按期办结率", "on_time_resolve_rate"),
    ]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 8, "bottom": 8, "top": 56, "containLabel": True},
        "xAxis": {"type": "category", "data": names, "axisLabel": {"interval": 0, "rotate": 30}},
        "yAxis": {"type": "value", "max": 100, "axisLabel": {"formatter": "{value}%"}},
        "series": [
            {
                "name": label,
                "type": "bar",
                "data": [_percent(getattr(d, key)) for d in report.departments],
            }
            for label, key in series
        ],
    }


def _weekly_chart(
    request: Request, department: str | None, until: dt.datetime, days: int, user: Principal
) -> dict:
    """The city's (or the department's) rates week by week: is it getting better?"""
    weeks = max(2, min(13, days // 7))
    tickets = store(request)
    labels: list[str] = []
    series: dict[str, list[float | None]] = {
        k: [] for k in ("响应率", "解决率", "满意率", "按期办结率")
    }
    for i in range(weeks, 0, -1):
        end = until - dt.timedelta(days=7 * (i - 1))
        total = tickets.metrics(user, end - dt.timedelta(days=7), end, department).total
        labels.append(local(end).strftime("%m-%d"))  # type: ignore[union-attr]
        for name, rate in zip(
            series,
            (
                total.response_rate,
                total.resolution_rate,
                total.satisfaction_rate,
                total.on_time_resolve_rate,
            ),
            strict=True,
        ):
            series[name].append(_percent(rate))
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 8, "bottom": 8, "top": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": labels, "name": "周止"},
        "yAxis": {"type": "value", "max": 100, "axisLabel": {"formatter": "{value}%"}},
        "series": [
            {"name": name, "type": "line", "connectNulls": False, "data": values}
            for name, values in series.items()
        ],
    }


def _volume_chart(tickets: list[TicketView], since: dt.datetime, days: int) -> dict:
    dates = [(since + dt.timedelta(days=i)).date() for i in range(days + 1)]
    counts: dict[str, Counter] = defaultdict(Counter)
    for t in tickets:
        counts[t.category or "未分类"][local(t.created_at).date()] += 1  # type: ignore[union-attr]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "type": "scroll"},
        "grid": {"left": 8, "right": 8, "bottom": 8, "top": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": [d.strftime("%m-%d") for d in dates]},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {
                "name": category,
                "type": "line",
                "stack": "总量",
                "areaStyle": {},
                "data": [by_day.get(d, 0) for d in dates],
            }
            for category, by_day in sorted(counts.items())
        ],
    }


def _measure(group: list[TicketView], measure: str, district: str | None = None) -> float:
    if measure == "overdue":
        return round(100 * sum(t.overdue for t in group) / len(group), 1) if group else 0
    if measure == "open":
        return sum(t.status.value in ("dispatched", "signed", "in_progress") for t in group)
    if measure == "per10k" and district is not None:
        return round(len(group) / DISTRICT_POPULATION_10K[district], 2)
    return len(group)


def _ticket_values(tickets: list[TicketView], measure: str) -> dict[str, float]:
    by_district: dict[str, list[TicketView]] = defaultdict(list)
    for t in tickets:
        if t.region_code and t.region_code[:6] in XIAMEN_DISTRICTS:
            by_district[t.region_code[:6]].append(t)
    return {code: _measure(by_district[code], measure, code) for code in XIAMEN_DISTRICTS}


@dataclass
class DistrictReach:
    """What the latest match run found in one district: who qualifies, for what, for how much."""

    enterprises: set[str] = field(default_factory=set)
    amount: Decimal = Decimal(0)
    by_policy: Counter = field(default_factory=Counter)


_reach_lock = threading.Lock()


def _reach(request: Request) -> tuple[str | None, dict[str, DistrictReach]]:
    """The latest run's eligible rows by the enterprises' registered district (kept per run: a
    published run never changes)."""
    try:
        run = load_run(request.app.state.settings.results_dir)
    except ZhixiangError:
        return None, {}
    cached = getattr(request.app.state, "web_reach", None)
    if cached and cached[0] == run.run_id:
        return cached
    by_district: dict[str, DistrictReach] = defaultdict(DistrictReach)
    with _reach_lock, open_results(request.app.state.settings.results_dir, run.run_id) as results:
        for counts in run.policies:
            offset = 0
            while offset < min(counts.eligible, MAX_ELIGIBLE):
                page = results.rows(counts.policy_id, "eligible", limit=5_000, offset=offset)
                for row in page:
                    reach = by_district[registered_district(row.entity_id)]
                    reach.enterprises.add(row.entity_id)
                    reach.amount += row.amount or 0
                    reach.by_policy[counts.title] += 1
                offset += len(page)
                if not page:
                    break
    request.app.state.web_reach = (run.run_id, dict(by_district))
    return run.run_id, dict(by_district)


def _reach_values(reach: dict[str, DistrictReach], measure: str) -> dict[str, float]:
    if measure == "eligible":
        return {
            code: len(reach[code].enterprises) if code in reach else 0 for code in XIAMEN_DISTRICTS
        }
    return {
        code: round(float(reach[code].amount) / 10_000, 1) if code in reach else 0
        for code in XIAMEN_DISTRICTS
    }


def _granted_values(request: Request) -> dict[str, float]:
    """万元 granted (net of reversals) to the enterprises registered in each district."""
    by_district: dict[str, Decimal] = defaultdict(Decimal)
    for entity, amount in ledger(request).granted_by_entity().items():
        by_district[registered_district(entity)] += amount
    return {code: round(float(by_district[code]) / 10_000, 1) for code in XIAMEN_DISTRICTS}


def _map_chart(values: dict[str, float], measure: str) -> tuple[dict, list[dict]]:
    data = [
        {"name": name, "value": values.get(code, 0), "code": code}
        for code, name in XIAMEN_DISTRICTS.items()
    ]
    top = max(values.values(), default=0) or 1
    option = {
        "tooltip": {"trigger": "item", "formatter": "{b}：{c}"},
        "visualMap": {
            "min": 0,
            "max": top,
            "left": 8,
            "bottom": 8,
            "text": ["高", "低"],
            "calculable": True,
            "inRange": {"color": ["#e8f1fb", "#6aa5dd", "#0b4f8a"]},
        },
        "series": [
            {
                "name": MEASURES[measure],
                "type": "map",
                "map": "厦门",
                "roam": False,
                "label": {"show": True, "color": "#1a1a1a"},
                "emphasis": {"label": {"show": True}},
                "data": data,
            }
        ],
    }
    return option, data


def _bars(rows: Sequence[tuple[str, float]], label: str) -> dict:
    return {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 8, "right": 24, "bottom": 8, "top": 8, "containLabel": True},
        "xAxis": {"type": "value"},
        "yAxis": {"type": "category", "data": [r[0] for r in rows]},
        "series": [{"name": label, "type": "bar", "data": [r[1] for r in rows]}],
    }


def _streets_chart(tickets: list[TicketView], district: str, measure: str) -> tuple[dict, list]:
    """A district's streets; there are no street populations, so 每万人 drills into counts."""
    shown = "count" if measure == "per10k" else measure
    by_street: dict[str, list[TicketView]] = defaultdict(list)
    for t in tickets:
        if t.region_code and t.region_code.startswith(district) and len(t.region_code) >= 9:
            by_street[t.region_code[:9]].append(t)
    rows = sorted(
        ((name, _measure(by_street[code], shown)) for code, name in street_options(district)),
        key=lambda row: row[1],
    )
    return _bars(rows, MEASURES[shown]), rows


def _district_policies_chart(reach: DistrictReach | None) -> tuple[dict, list]:
    """A district's eligible enterprises policy by policy (enterprises register by district only)."""
    rows = sorted((reach.by_policy if reach else Counter()).items(), key=lambda row: row[1])
    return _bars(rows, "符合条件企业数"), rows


def _granted(request: Request, user: Principal) -> dict[str, Any]:
    """The 免申即享 dashboard's rows by policy (its latest period), for those who may read it."""
    if not user.can("grants.read"):
        return {}
    return {row.policy_id: row for row in ledger(request).dashboard()}  # ordered by period


def _reach_chart(summary: dict[str, Any], granted: dict[str, Any] | None = None) -> dict | None:
    """Eligible / near-miss / needs information per policy; with the grant ledger, granted (免申兑现)
    and the amount paid (万元, right axis)."""
    if not summary:
        return None
    rows = list(summary.values())
    if granted:
        return {
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0},
            "grid": {"left": 8, "right": 8, "bottom": 8, "top": 40, "containLabel": True},
            "xAxis": {
                "type": "category",
                "data": [r.title for r in rows],
                "axisLabel": {"rotate": 30},
            },
            "yAxis": [{"type": "value", "name": "企业数"}, {"type": "value", "name": "万元"}],
            "series": [
                {"name": "符合条件", "type": "bar", "data": [r.eligible for r in rows]},
                {
                    "name": "免申兑现",
                    "type": "bar",
                    "data": [
                        g.granted_without_application if (g := granted.get(r.policy_id)) else 0
                        for r in rows
                    ],
                },
                {
                    "name": "已拨付金额（万元）",
                    "type": "line",
                    "yAxisIndex": 1,
                    "data": [
                        round(float(g.paid_amount) / 10_000, 2)
                        if (g := granted.get(r.policy_id))
                        else 0
                        for r in rows
                    ],
                },
            ],
        }
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 8, "right": 8, "bottom": 8, "top": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": [r.title for r in rows], "axisLabel": {"rotate": 30}},
        "yAxis": {"type": "value"},
        "series": [
            {"name": "符合条件", "type": "bar", "data": [r.eligible for r in rows]},
            {"name": "差一项", "type": "bar", "data": [r.near_miss for r in rows]},
            {"name": "待补充信息", "type": "bar", "data": [r.needs_information for r in rows]},
        ],
    }


@router.get("")
def dashboard(
    request: Request,
    user: Metrics,
    period: str = "30",
    measure: str = "count",
    district: str | None = None,
) -> Response:
    if period not in PERIODS:
        raise InvalidInput(f"统计区间应为 {'、'.join(PERIODS)} 天之一", "period")
    if measure not in MEASURES:
        raise InvalidInput(f"地图指标应为 {'、'.join(MEASURES)} 之一", "measure")
    sees_reach = user.can("policies.summary")
    if measure in REACH_MEASURES and not sees_reach:
        raise Forbidden("政策触达指标需要“查看匹配汇总”权限（政策管理员、审核员、领导）", "measure")
    sees_grants = user.can("grants.read")
    if measure in GRANT_MEASURES and not sees_grants:
        raise Forbidden("已兑现金额需要“查看兑现批次”权限（政策管理员、审核员、领导）", "measure")
    if district is not None and district not in XIAMEN_DISTRICTS:
        raise InvalidInput(f"没有区划 {district!r}", "district")
    days = int(period)
    until = dt.datetime.now(dt.UTC)
    since = until - dt.timedelta(days=days)
    department = None if user.citywide else user.department
    report = store(request).metrics(user, since, until, department)
    tickets, capped = _tickets(request, user, since)
    run_id, reach = _reach(request) if sees_reach else (None, {})
    if measure in REACH_MEASURES:
        values = _reach_values(reach, measure)
        drill = _district_policies_chart(reach.get(district)) if district else None
    elif measure in GRANT_MEASURES:
        values, drill = _granted_values(request), None
    else:
        values = _ticket_values(tickets, measure)
        drill = _streets_chart(tickets, district, measure) if district else None
    map_option, map_data = _map_chart(values, measure)
    summary = _summary(request) if sees_reach else {}
    granted = _granted(request, user) if summary else {}
    return render(
        request,
        "dashboard.html",
        user=user,
        report=report,
        percent=_percent,
        period=period,
        periods=PERIODS,
        measure=measure,
        measures={
            k: v
            for k, v in MEASURES.items()
            if (sees_reach or k not in REACH_MEASURES) and (sees_grants or k not in GRANT_MEASURES)
        },
        reach_measure=measure in REACH_MEASURES,
        run_id=run_id,
        district=district,
        district_name=XIAMEN_DISTRICTS.get(district or ""),
        rates_chart=_rates_chart(report),
        weekly_chart=_weekly_chart(request, department, until, days, user),
        volume_chart=_volume_chart(tickets, since, days),
        map_chart=map_option,
        map_data=map_data,
        drill=drill,
        reach_chart=_reach_chart(summary, granted),
        granted=granted,
        insight=dashboard_panel(request, user, since) if user.can("insight.read") else None,
        summary=summary,
        ticket_count=len(tickets),
        capped=capped,
    )
