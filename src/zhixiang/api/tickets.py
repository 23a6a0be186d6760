"""接诉即办 REST API: intake, department queues, workflow actions, search, 三率 and the calendar.

Thin: each route declares its permission, calls the ticket store (opened once by `create_app`) and
returns its values; the store checks the finer rules (department, state) and its refusals become
their precise 4xx status in the app's exception handlers.

The short, frequent routes (intake, one ticket, actions, queues) are `async def` and call the store
inline: each call is 1–3 ms of CPU, and a hop to a worker thread cost about as much again in GIL
hand-offs (measured with benchmarks/intake_bench.py). Intake awaits its write: the intakes that
reach the loop while one is pending are committed together (`TicketStore.intake_async`). Search,
metrics and escalation can run long and stay in the thread pool. Scale with uvicorn workers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, Field, TypeAdapter

from zhixiang.access import Principal
from zhixiang.api._auth import requires
from zhixiang.tickets import (
    Command,
    IntakeResult,
    MetricsQuery,
    MetricsReport,
    SearchFilters,
    TicketDraft,
    TicketStore,
    TicketView,
)
from zhixiang.tickets.channels import rest

router = APIRouter(prefix="/requests", tags=["接诉即办"])

TicketId = Annotated[int, Path(ge=1, le=2**31 - 1, description="工单编号")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


async def _store(request: Request) -> TicketStore:
    """The app's ticket store, opened once at start-up by `create_app`."""
    return request.app.state.tickets


Store = Annotated[TicketStore, Depends(_store)]
_TICKETS = TypeAdapter(list[TicketView])


def _json(
    value: BaseModel | bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Serialize once, with pydantic's own encoder (the hot paths skip FastAPI's re-validation)."""
    body = value if isinstance(value, bytes) else value.model_dump_json().encode()
    return Response(body, status, headers, media_type="application/json")


class MergeRequest(BaseModel):
    into: int = Field(ge=1, le=2**31 - 1, description="主单编号")


class CalendarView(BaseModel):
    known_years: list[int]
    estimated: list[TicketView]


@router.post("/tickets", status_code=201, response_model=IntakeResult)
async def intake(
    draft: TicketDraft,
    store: Store,
    caller: Annotated[Principal, requires("tickets.intake")],
    idempotency_key: Annotated[
        str | None, Header(description="客户端生成的幂等键：重试原样重发不会产生第二张工单")
    ] = None,
) -> Response:
    """受理: register a request; classified, routed and dispatched when the model is confident."""
    result = await rest.submit_async(store, caller, draft, idempotency_key)
    replayed = {} if result.created else {"Idempotent-Replayed": "true"}
    return _json(result, 201 if result.created else 200, replayed)


@router.get("/tickets", response_model=list[TicketView])
def search(
    filters: Annotated[SearchFilters, Query()],
    store: Store,
    caller: Annotated[Principal, requires("tickets.read")],
) -> list[TicketView]:
    """Search by text, status, category, department, region and time; handlers see their own."""
    return store.search(caller, filters)


@router.get("/tickets/{ticket_id}", response_model=TicketView)
async def get_ticket(
    ticket_id: TicketId, store: Store, caller: Annotated[Principal, requires("tickets.read")]
) -> TicketView:
    """One ticket with its full history and follow-ups."""
    return store.get(caller, ticket_id)


@router.get("/tickets/{ticket_id}/media/{number}")
def media(
    ticket_id: TicketId,
    number: Annotated[int, Path(ge=1, le=100)],
    store: Store,
    caller: Annotated[Principal, requires("tickets.read")],
) -> Response:
    """The ticket's n-th attached photo (staff only; the public never sees citizens' photos)."""
    content_type, data = store.media(caller, ticket_id, number)
    return Response(data, media_type=content_type, headers={"Cache-Control": "private"})


@router.post("/tickets/{ticket_id}/actions", response_model=TicketView)
async def act(
    ticket_id: TicketId,
    command: Command,
    store: Store,
    caller: Annotated[Principal, requires("tickets.act")],
) -> TicketView:
    """派单/签收/办理/退单/改派/延期/督办/催办/办结/回访/重办/归档; illegal moves get 409.

    Each action needs its own permission as well (派单类 tickets.dispatch, 办理类 tickets.handle on the
    ticket's own department, 回访类 tickets.follow_up); the store checks it.
    """
    return store.act(caller, ticket_id, command)


@router.post("/tickets/{ticket_id}/merge", response_model=TicketView)
async def merge(
    ticket_id: TicketId,
    body: MergeRequest,
    store: Store,
    caller: Annotated[Principal, requires("tickets.dispatch")],
) -> TicketView:
    """并单: this ticket follows the primary's handling; it keeps its own reply and 回访."""
    return store.merge(caller, ticket_id, body.into)


@router.get("/queues/{department}", response_model=list[TicketView])
async def queue(
    department: Annotated[str, Path(max_length=64)],
    store: Store,
    caller: Annotated[Principal, requires("tickets.read")],
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    """A department's open tickets, soonest deadline first; `center` is the manual-dispatch queue."""
    return _json(_TICKETS.dump_json(store.queue(caller, department, limit, offset)))


@router.get("/metrics", response_model=MetricsReport)
def metrics(
    query: Annotated[MetricsQuery, Query()],
    store: Store,
    caller: Annotated[Principal, requires("tickets.metrics")],
) -> MetricsReport:
    """三率 (响应率, 解决率, 满意率), 按时签收率, 按期办结率 and dispatch accuracy; default last 30 days."""
    until = query.until or datetime.now(UTC)
    since = query.since or until - timedelta(days=30)
    return store.metrics(caller, since, until, query.department)


@router.post("/escalations", response_model=list[TicketView])
def escalate(
    store: Store, caller: Annotated[Principal, requires("tickets.escalate")]
) -> list[TicketView]:
    """Run 超期升级 now (normally a timer runs `zhixiang tickets escalate`); returns the moved tickets."""
    return store.escalate_overdue(caller)


@router.get("/calendar", response_model=CalendarView)
def calendar(
    store: Store,
    caller: Annotated[Principal, requires("tickets.read")],
    limit: Limit = 100,
    offset: Offset = 0,
) -> CalendarView:
    """Years with a known holiday schedule, and open tickets whose deadline is only an estimate."""
    estimated = store.search(
        caller, SearchFilters(deadline_estimated=True, state="open", limit=limit, offset=offset)
    )
    return CalendarView(known_years=store.calendar_years(), estimated=estimated)
