"""主动发现 API: hot topics and their heat over time, surge alerts and proactive tasks, reply quality.

Thin: each route declares its permission (`insight.read` / `insight.act`) with `requires()`,
calls `zhixiang.insight` over the ticket store and returns the values. A handler sees only what
belongs to its own department (`Principal.sees_department`).
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from zhixiang.access import Principal
from zhixiang.api._auth import requires
from zhixiang.api.tickets import Store
from zhixiang.tickets import TicketStore

router = APIRouter(prefix="/insight", tags=["主动发现"])
_lock = threading.Lock()

AlertId = Annotated[int, Path(ge=1, le=2**31 - 1, description="预警编号")]
Days = Annotated[int, Query(ge=1, le=3_650, description="分析最近多少天的工单")]

Reader = Annotated[Principal, requires("insight.read")]
Actor = Annotated[Principal, requires("insight.act")]


def _intake_for(who: Principal) -> Principal:
    """The agent who opens a proactive task registers it (the store checks tickets.intake)."""
    return who


def _alerts(request: Request):  # type: ignore[no-untyped-def]
    from zhixiang.insight import open_alert_store

    state = request.app.state
    store = getattr(state, "insight_alerts", None)
    if store is None:
        with _lock:
            store = getattr(state, "insight_alerts", None)
            if store is None:
                settings = state.settings
                store = state.insight_alerts = open_alert_store(
                    settings.insight_db or settings.tickets_url
                )
    return store


def _since(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def _messages(store: TicketStore, days: int):  # type: ignore[no-untyped-def]
    from zhixiang.insight import messages_from_store

    return messages_from_store(store, since=_since(days))


def _topic(t: Any) -> dict[str, Any]:
    return {**dataclasses.asdict(t), "size": t.size, "time_range": t.time_range, "key": t.key}


@router.get("/topics")
def hot_topics(
    store: Store, who: Reader, days: Days = 90, top: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[dict[str, Any]]:
    """热点问题: the hottest problems at one place in the period, with their heat index."""
    from zhixiang.insight import find_topics

    return [_topic(t) for t in find_topics(_messages(store, days), top=top)]


@router.get("/topics/trends")
def topic_trends(
    store: Store,
    who: Reader,
    days: Days = 180,
    top: Annotated[int, Query(ge=1, le=50)] = 10,
    weeks: Annotated[int, Query(ge=1, le=104)] = 12,
) -> list[dict[str, Any]]:
    """Heat of the top topics at the end of each week (dashboard curves)."""
    from zhixiang.insight import topic_trends as trends

    return [
        {"topic": _topic(t.topic), "weeks": t.weeks, "heat": t.heat, "messages": t.messages}
        for t in trends(_messages(store, days), top=top, weeks=weeks)
    ]


@router.get("/alerts")
def list_alerts(
    request: Request,
    who: Reader,
    status: Annotated[str | None, Query(pattern="^(open|task|closed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Surge alerts, newest first; a department sees those routed to it."""
    alerts = _alerts(request).list(status, limit)
    return [
        dataclasses.asdict(a)
        for a in alerts
        if a.department is None or who.sees_department(a.department)
    ]


@router.post("/alerts/scan")
def scan_alerts(request: Request, store: Store, who: Actor, days: Days = 365) -> dict[str, Any]:
    """Replay the period's tickets through the surge test and store new alerts (deduplicated)."""
    from zhixiang.insight import scan, ticket_views

    messages = _messages(store, days)
    categories = {
        str(v.id): v.category or "未分类" for v in ticket_views(store, since=_since(days))
    }
    surges = scan(messages, [categories.get(m.id, "未分类") for m in messages])
    created, updated = _alerts(request).record(surges)
    return {
        "messages": len(messages),
        "created": [dataclasses.asdict(a) for a in created],
        "updated": len(updated),
    }


class TaskRequest(BaseModel):
    category: str | None = Field(
        default=None, max_length=64, description="一级分类；不填用预警的类别"
    )


@router.post("/alerts/{alert_id}/task")
def open_task(
    alert_id: AlertId,
    request: Request,
    store: Store,
    who: Actor,
    task: TaskRequest | None = None,
) -> dict[str, Any]:
    """未诉先办: open a proactive ticket for the alert, routed to the responsible department."""
    category = (task or TaskRequest()).category
    alert = _alerts(request).open_task(alert_id, store, _intake_for(who), category)
    return dataclasses.asdict(alert)


@router.post("/alerts/{alert_id}/close")
def close_alert(
    alert_id: AlertId,
    request: Request,
    who: Actor,
    note: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """Close an alert that needs no task (a known event, handled elsewhere), with a note."""
    return dataclasses.asdict(_alerts(request).close_alert(alert_id, note))


@router.get("/replies/quality")
def reply_quality(store: Store, who: Reader, days: Days = 30) -> list[dict[str, Any]]:
    """答复质量 per department over the period (beside the 三率); a handler sees its own only."""
    from zhixiang.insight import store_reply_quality

    rows = store_reply_quality(store, since=_since(days))
    return [
        {**dataclasses.asdict(q), "weak_share": q.weak_share}
        for q in rows
        if who.sees_department(q.department)
    ]


class ReplyDraft(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    body: str = Field(default="", max_length=20_000)
    reply: str = Field(min_length=1, max_length=20_000)
    asked_at: datetime | None = None
    replied_at: datetime | None = None


@router.post("/replies/score")
def score_reply(draft: ReplyDraft, who: Reader) -> dict[str, Any]:
    """Score a draft reply before it is sent: the five parts, the total and what is missing."""
    from zhixiang.insight import ReplyScorer

    scorer = ReplyScorer()
    naive = [
        d.astimezone(UTC).replace(tzinfo=None) if d and d.tzinfo else d
        for d in (draft.asked_at, draft.replied_at)
    ]
    score = scorer.score(draft.title, draft.body, draft.reply, *naive)
    return {**dataclasses.asdict(score), "weak": scorer.is_weak(score), "summary": score.summary}
