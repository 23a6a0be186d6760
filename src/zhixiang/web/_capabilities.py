"""Where pages get the capabilities from: the same objects the API routes use, opened once per app.

Two bridges live here until the ticket capability offers them itself: intake has no "preview", so
the suggestion shown before saving is assembled from the store's public parts (its classifier, its
routing rules, its search and `similarities`) with the store's own thresholds; and a citizen's own
rating of a reply is recorded as the 回访 it is by the rating form's principal, for the one ticket
whose tracking code the citizen holds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from fastapi import Request

from zhixiang.access import Principal, PrincipalKind, Role
from zhixiang.api.policies import get_policies
from zhixiang.datahub import open_warehouse
from zhixiang.insight import AlertStore, open_alert_store
from zhixiang.matching import EXPLAIN_PURPOSE, Calculator, EntityReport, explain_under_grants
from zhixiang.rules import PolicySet
from zhixiang.tickets import SearchFilters, Status, TicketStore, TicketView, similarities

_lock = threading.Lock()
T = TypeVar("T")

__all__ = [
    "WEB_CHANNEL",
    "WEB_FOLLOW_UP",
    "Suggestion",
    "alerts",
    "calculator",
    "department_name",
    "departments",
    "explain_enterprise",
    "opened_once",
    "policies",
    "preview",
    "store",
]

#: The public web form (便民服务) as an intake channel.
WEB_CHANNEL = Principal(PrincipalKind.SYSTEM, "web-form", "便民服务网站", frozenset({Role.CHANNEL}))
#: Records a citizen's own rating as the ticket's 回访 (only from the rating form, by tracking code).
WEB_FOLLOW_UP = Principal(PrincipalKind.SYSTEM, "web-rating", "群众评价", frozenset({Role.AGENT}))


def opened_once(request: Request, name: str, open_it: Callable[[], T]) -> T:
    """`app.state.<name>`, opened by `open_it` the first time any page (or the API, which uses the
    same names) asks for it; one instance per app, whichever thread comes first."""
    state = request.app.state
    if getattr(state, name, None) is None:
        with _lock:
            if getattr(state, name, None) is None:
                setattr(state, name, open_it())
    return getattr(state, name)


def store(request: Request) -> TicketStore:
    """The app's ticket store, opened once by `create_app`."""
    return request.app.state.tickets


def policies(request: Request) -> PolicySet:
    return get_policies(request)


def calculator(request: Request) -> Calculator:
    """The app's calculator (it remembers evaluations); the same object the API's routes use."""
    return opened_once(request, "calculator", lambda: Calculator(policies(request).policies))


def explain_enterprise(
    request: Request, user: Principal, credit_code: str, as_of: date
) -> EntityReport | None:
    """One enterprise's report as `user`'s department may see it: through the data hub's grants
    (internal fields without a grant are withheld and read as unknown), audited as a web read."""
    with open_warehouse(request.app.state.settings.warehouse_url) as wh:
        found = explain_under_grants(
            wh,
            calculator(request),
            credit_code,
            as_of,
            reader=user.department or user.id,
            purpose=EXPLAIN_PURPOSE,
            via=f"web:{user.id}",
        )
    return None if found is None else found[0]


def departments(request: Request) -> list[tuple[str, str]]:
    """Every department of the directory as (code, name): the choices for 派单 and filters."""
    return [(d.code, d.name) for d in request.app.state.access.directory]


def department_name(request: Request, code: str | None) -> str | None:
    return request.app.state.access.directory.name_of(code) if code else None


@dataclass(frozen=True)
class Suggestion:
    """What intake would decide for a draft: category, confidence, department, near duplicates."""

    category: str | None
    confidence: float | None
    department: str | None
    department_name: str | None
    auto_dispatch: bool
    duplicates: list[tuple[TicketView, float]]


_OPEN = (Status.RECEIVED, Status.DISPATCHED, Status.SIGNED, Status.IN_PROGRESS)


def preview(
    tickets: TicketStore,
    names: dict[str, str],
    caller: Principal,
    title: str,
    body: str,
    region_code: str | None,
    address: str | None = None,
) -> Suggestion:
    """The store's classifier and routing for this draft, and open tickets of the same street alike."""
    rules = tickets.rules
    category = confidence = None
    if tickets.classifier is not None and (title or body):
        prediction = tickets.classifier.predict([title], [body])[0]
        if prediction.category in rules.category_names:
            category, confidence = prediction.category, float(prediction.confidence)
    department = rules.route(category, region_code) if category else None
    duplicates: list[tuple[TicketView, float]] = []
    if region_code and len(region_code) >= 9:
        since = datetime.now(UTC) - timedelta(hours=rules.duplicates.window_hours)
        near: list[TicketView] = []
        for status in _OPEN:
            near += tickets.search(
                caller,
                SearchFilters(
                    region=region_code[:9],
                    status=status,
                    since=since,
                    limit=rules.duplicates.max_candidates,
                ),
            )
        near = [t for t in near if t.group_id is None]
        text = f"{title} {address or ''} {body[:300]}"
        scores = similarities(text, [f"{t.title} {t.address or ''} {t.body[:300]}" for t in near])
        duplicates = sorted(
            (
                (t, round(s, 3))
                for t, s in zip(near, scores, strict=True)
                if s >= rules.duplicates.threshold
            ),
            key=lambda pair: -pair[1],
        )[:5]
    return Suggestion(
        category,
        confidence,
        department,
        names.get(department) if department else None,
        department is not None and (confidence or 0.0) >= rules.auto_dispatch_threshold,
        duplicates,
    )


def alerts(request: Request) -> AlertStore:
    """The app's surge-alert store: the API's own when it opened it first (`app.state`)."""
    settings = request.app.state.settings
    return opened_once(
        request,
        "insight_alerts",
        lambda: open_alert_store(settings.insight_db or settings.tickets_url),
    )
