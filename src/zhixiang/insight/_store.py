"""Insight over the ticket store: its tickets as messages, reply quality per department, scans.

Reads only through `zhixiang.tickets`' public face (search and views), in pages, as the intake
centre sees tickets (contacts masked). Tickets are layer 3; this is layer 4 and never writes to
them except by opening a proactive task through `TicketStore.intake`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from zhixiang.insight._messages import Message
from zhixiang.insight._replies import ReplyScore, ReplyScorer

PAGE = 500


def _reader():  # type: ignore[no-untyped-def]
    """The platform itself reads for the analyses (contacts stay masked in the views)."""
    from zhixiang.access import SYSTEM

    return SYSTEM


def ticket_views(
    store, since: datetime | None = None, until: datetime | None = None, limit: int = 200_000
) -> Iterator:  # type: ignore[no-untyped-def]
    """Every ticket created in [since, until), newest first, page by page."""
    from zhixiang.tickets import SearchFilters

    offset = 0
    while offset < limit:
        page = store.search(
            _reader(), SearchFilters(since=since, until=until, limit=PAGE, offset=offset)
        )
        yield from page
        if len(page) < PAGE:
            return
        offset += PAGE


def messages_from_store(
    store, since: datetime | None = None, until: datetime | None = None
) -> list[Message]:  # type: ignore[no-untyped-def]
    """The store's tickets as messages for hot topics and surges (reporter = masked contact)."""
    messages = []
    for record, view in enumerate(ticket_views(store, since, until), start=1):
        messages.append(
            Message(
                record=record,
                id=str(view.id),
                title=view.title,
                body=f"{view.address or ''} {view.body}".strip(),
                time=view.created_at.replace(tzinfo=None),
                user=view.reporter_contact or view.reporter_name or f"ticket-{view.id}",
                reply=view.reply or "",
                reply_time=view.resolved_at.replace(tzinfo=None) if view.resolved_at else None,
            )
        )
    messages.reverse()  # oldest first, as a file would list them
    return messages


@dataclass(frozen=True)
class DepartmentQuality:
    """Reply quality of one department over a period, to sit beside its 三率."""

    department: str
    department_name: str | None
    replies: int
    mean_total: float
    weak: int
    relevance: float
    completeness: float
    explanation: float
    timeliness: float | None
    tone: float

    @property
    def weak_share(self) -> float:
        return self.weak / self.replies if self.replies else 0.0


def quality_by_department(
    scored: list[tuple[str, str | None, ReplyScore]], scorer: ReplyScorer
) -> list[DepartmentQuality]:
    """Aggregate (department, name, score) rows; departments with the weakest replies first."""
    groups: dict[str, list[tuple[str | None, ReplyScore]]] = {}
    for department, name, score in scored:
        groups.setdefault(department, []).append((name, score))
    out = []
    for department, rows in groups.items():
        scores = [s for _, s in rows]
        timely = [s.timeliness for s in scores if s.timeliness is not None]

        def mean(values: list[float]) -> float:
            return round(sum(values) / len(values), 4)

        out.append(
            DepartmentQuality(
                department=department,
                department_name=rows[0][0],
                replies=len(scores),
                mean_total=mean([s.total for s in scores]),
                weak=sum(scorer.is_weak(s) for s in scores),
                relevance=mean([s.relevance for s in scores]),
                completeness=mean([s.completeness for s in scores]),
                explanation=mean([s.explanation for s in scores]),
                timeliness=mean(timely) if timely else None,
                tone=mean([s.tone for s in scores]),
            )
        )
    return sorted(out, key=lambda q: (q.mean_total, q.department))


def store_reply_quality(
    store,
    since: datetime | None = None,
    until: datetime | None = None,
    scorer: ReplyScorer | None = None,
) -> list[DepartmentQuality]:  # type: ignore[no-untyped-def]
    """Score every answered ticket in the period and aggregate per department."""
    scorer = scorer or ReplyScorer()
    rows = []
    for view in ticket_views(store, since, until):
        if not view.reply or not view.department:
            continue
        score = scorer.score(
            view.title,
            view.body,
            view.reply,
            view.created_at.replace(tzinfo=None),
            view.resolved_at.replace(tzinfo=None) if view.resolved_at else None,
        )
        rows.append((view.department, view.department_name, score))
    return quality_by_department(rows, scorer)
