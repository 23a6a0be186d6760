"""The REST channel: a client posts the ticket model itself (`TicketDraft` as JSON) to
`POST /requests/tickets`; nothing needs mapping, so this channel only fixes the defaults."""

from __future__ import annotations

from zhixiang.access import Principal
from zhixiang.tickets._model import IntakeResult, TicketDraft
from zhixiang.tickets._store import TicketStore


def submit(
    store: TicketStore, caller: Principal, draft: TicketDraft, idempotency_key: str | None = None
) -> IntakeResult:
    """受理 one REST request; `channel` is what the client says it is (hotline, app, wechat …)."""
    return store.intake(caller, draft, idempotency_key)


async def submit_async(
    store: TicketStore, caller: Principal, draft: TicketDraft, idempotency_key: str | None = None
) -> IntakeResult:
    """`submit` on an event loop: concurrent requests share one transaction (group commit)."""
    return await store.intake_async(caller, draft, idempotency_key)
