"""接诉即办 REST API: intake, department queues, workflow actions, search and 三率.

Thin: each route authenticates, calls the ticket store and returns its values; refusals from the
store become their precise 4xx status in the app's exception handlers (`create_app`).

The short, frequent routes (intake, one ticket, actions, queues) are `async def` and call the store
inline: each call is 1–3 ms of CPU, and a hop to a worker thread cost about as much again in GIL
hand-offs (measured with benchmarks/intake_bench.py). Search, metrics and escalation can run long
and stay in the thread pool. Scale with uvicorn workers.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field, TypeAdapter

from zhixiang.tickets import (
    Command,
    Forbidden,
    IntakeResult,
    MetricsReport,
    Principal,
    SearchFilters,
    TicketDraft,
    TicketStore,
    TicketView,
    open_store,
)

_lock = threading.Lock()


router = APIRouter(prefix="/requests", tags=["接诉即办"])

TicketId = Annotated[int, Path(ge=1, le=2**31 - 1, description="工单编号")]


def get_store(request: Request) -> TicketStore:
    """The app's ticket store, opened (and migrated) on first use from the app's settings.

    Used as an async dependency (`_store`) so a request does not hop to a worker thread for it.
    """
    state = request.app.state
    store = getattr(state, "tickets_store", None)
    if store is None:
        with _lock:
            store = getattr(state, "tickets_store", None)
            if store is None:
                store = state.tickets_store = open_store(
                    state.settings.tickets_url, reply_scorer=_reply_scorer()
                )
    return store


def _reply_scorer():  # type: ignore[no-untyped-def]
    """答复质量 for every 办结 (zhixiang.insight, injected here: tickets may not import it)."""
    from zhixiang.insight import ReplyScorer

    return ReplyScorer()


async def _store(request: Request) -> TicketStore:
    return get_store(request)


Store = Annotated[TicketStore, Depends(_store)]


async def principal(
    store: Store, x_api_key: Annotated[str | None, Header(description="API 密钥")] = None
) -> Principal:
    """The caller's key; checked inline (its lookup is cached), not in a worker thread."""
    return store.authenticate(x_api_key)


Caller = Annotated[Principal, Depends(principal)]


_TICKETS = TypeAdapter(list[TicketView])


def _json(
    value: BaseModel | bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Serialize once, with pydantic's own encoder (the hot paths skip FastAPI's re-validation)."""
    body = value if isinstance(value, bytes) else value.model_dump_json().encode()
    return Response(body, status, headers, media_type="application/json")


class MergeRequest(BaseModel):
    into: int = Field(ge=1, le=2**31 - 1, description="主单编号")


@router.post("/tickets", status_code=201, response_model=IntakeResult)
async def intake(
    draft: TicketDraft,
    store: Store,
    caller: Caller,
    idempotency_key: Annotated[
        str | None, Header(description="客户端生成的幂等键：重试原样重发不会产生第二张工单")
    ] = None,
) -> Response:
    """受理: register a request; classified, routed and dispatched when the model is confident."""
    result = store.intake(caller, draft, idempotency_key)
    replayed = {} if result.created else {"Idempotent-Replayed": "true"}
    return _json(result, 201 if result.created else 200, replayed)


@router.get("/tickets", response_model=list[TicketView])
def search(
    filters: Annotated[SearchFilters, Query()], store: Store, caller: Caller
) -> list[TicketView]:
    """Search by text, status, category, department, region and time; departments see their own."""
    return store.search(caller, filters)


@router.get("/tickets/{ticket_id}", response_model=TicketView)
async def get_ticket(ticket_id: TicketId, store: Store, caller: Caller) -> TicketView:
    """One ticket with its full history and follow-ups."""
    return store.get(caller, ticket_id)


@router.post("/tickets/{ticket_id}/actions", response_model=TicketView)
async def act(ticket_id: TicketId, command: Command, store: Store, caller: Caller) -> TicketView:
    """派单/签收/办理/退单/改派/延期/督办/催办/办结/回访/重办/归档; illegal moves get 409."""
    return store.act(caller, ticket_id, command)


@router.post("/tickets/{ticket_id}/merge", response_model=TicketView)
async def merge(
    ticket_id: TicketId, body: MergeRequest, store: Store, caller: Caller
) -> TicketView:
    """并单: this ticket follows the primary's handling; it keeps its own reply and 回访."""
    return store.merge(caller, ticket_id, body.into)


@router.get("/queues/{department}", response_model=list[TicketView])
async def queue(
    department: str,
    store: Store,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """A department's open tickets, soonest deadline first; `center` is the manual-dispatch queue."""
    return _json(_TICKETS.dump_json(store.queue(caller, department, limit, offset)))


@router.get("/metrics", response_model=MetricsReport)
def metrics(
    store: Store,
    caller: Caller,
    since: datetime | None = None,
    until: datetime | None = None,
    department: str | None = None,
) -> MetricsReport:
    """三率 (响应率, 解决率, 满意率), 按时签收率, 按期办结率 and dispatch accuracy; default last 30 days."""
    if caller.scope == "department":
        if department not in (None, caller.department):
            raise Forbidden("部门只能查看本部门的指标", "department")
        department = caller.department
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=30)
    return store.metrics(since, until, department)


@router.post("/escalations", response_model=list[TicketView])
def escalate(store: Store, caller: Caller) -> list[TicketView]:
    """Run 超期升级 now (normally a timer runs `zhixiang tickets escalate`); returns the moved tickets."""
    if caller.scope != "intake":
        raise Forbidden("只有热线中心可以执行超期升级", "api_key")
    return store.escalate_overdue()
