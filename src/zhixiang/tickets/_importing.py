"""Work orders handled elsewhere (another 12345 system's export) taken in with their own history.

A channel module maps its format onto `ImportedTicket`; the store writes each as a ticket in the
state its times say (received, dispatched or resolved), once: a second import of the same order
(same source and external id) is skipped, so an import can be re-run after fixing bad rows.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select

from zhixiang.access import Principal
from zhixiang.tickets._deadlines import end_of_working_day_after
from zhixiang.tickets._intake import IntakeJobs
from zhixiang.tickets._model import TicketDraft
from zhixiang.tickets._tables import Ticket, TicketEvent
from zhixiang.tickets._workflow import Action, Status


class ImportedTicket(BaseModel):
    """One handled (or still open) work order with its times, as naive UTC."""

    external_id: str = Field(min_length=1, max_length=128)
    draft: TicketDraft
    received_at: datetime
    dispatched_at: datetime | None = None
    working_days: int | None = Field(default=None, ge=1, le=366)
    department: str | None = None
    resolved_at: datetime | None = None
    reply: str | None = None
    details: dict[str, str] = {}


class ImportReport(BaseModel):
    imported: list[int] = []
    skipped: list[str] = []  # external ids imported before


class ImportingJobs(IntakeJobs):
    def import_tickets(
        self, principal: Principal, source: str, records: list[ImportedTicket]
    ) -> ImportReport:
        """Write `records` from `source` (e.g. `12345`) in one transaction; already-imported are skipped."""
        self._require(principal, "tickets.intake")
        for r in records:
            self.check_draft(r.draft)
            if r.department is not None:
                r.department = self.check_department(r.department)
        scope = f"import:{source}"[:64]
        result = ImportReport()
        with self._writing() as session:
            ids = [r.external_id for r in records]
            done = set()
            for start in range(0, len(ids), 500):
                done |= set(
                    session.scalars(
                        select(Ticket.idempotency_key).where(
                            Ticket.idempotency_scope == scope,
                            Ticket.idempotency_key.in_(ids[start : start + 500]),
                        )
                    )
                )
            for record in records:
                if record.external_id in done:
                    result.skipped.append(record.external_id)
                    continue
                done.add(record.external_id)
                ticket = self._imported(record, scope)
                session.add(ticket)
                session.flush()
                session.add_all(self._imported_events(ticket, record, principal))
                result.imported.append(ticket.id)
        return result

    def _imported(self, r: ImportedTicket, scope: str) -> Ticket:
        d = r.draft
        priority = d.priority or self.rules.default_priority
        dispatched = r.dispatched_at is not None and r.department is not None
        due_at, estimated = (None, False)
        if dispatched and r.dispatched_at is not None:
            days = r.working_days
            limit = self.rules.priorities[priority].handle.time_limit()
            if days is not None:
                due_at, estimated = end_of_working_day_after(r.dispatched_at, days, self.calendar)
            elif limit.working_days is not None:
                due_at, estimated = end_of_working_day_after(
                    r.dispatched_at, limit.working_days, self.calendar
                )
        resolved = r.resolved_at is not None and bool(r.reply)
        status = Status.RESOLVED if resolved else Status.SIGNED if dispatched else Status.RECEIVED
        fingerprint = hashlib.sha256(r.model_dump_json().encode()).hexdigest()
        return Ticket(
            token=uuid.uuid4().hex,
            channel=d.channel,
            title=d.title,
            body=d.body,
            reporter_name=d.reporter_name,
            reporter_contact=d.reporter_contact,
            confidential=d.confidential,
            address=d.address,
            region_code=d.region_code,
            grid_id=d.grid_id,
            lat=d.lat,
            lon=d.lon,
            category=d.category,
            category_source="given" if d.category else None,
            priority=priority,
            status=status,
            created_at=r.received_at,
            updated_at=r.resolved_at if resolved else r.dispatched_at or r.received_at,
            department=r.department if dispatched else None,
            dispatched_at=r.dispatched_at if dispatched else None,
            signed_at=r.dispatched_at if dispatched else None,
            due_at=due_at,
            next_escalation_at=None if resolved else due_at,
            resolved_at=r.resolved_at if resolved else None,
            replied_at=r.resolved_at if resolved else None,
            reply=r.reply if resolved else None,
            deadline_estimated=estimated,
            auto_dispatched=False,
            misrouted=False,
            extensions=0,
            reminders=0,
            supervised=False,
            idempotency_scope=scope,
            idempotency_key=r.external_id,
            fingerprint=fingerprint,
        )

    @staticmethod
    def _imported_events(t: Ticket, r: ImportedTicket, who: Principal) -> list[TicketEvent]:
        details = "；".join(f"{k}：{v}" for k, v in r.details.items() if v)
        events = [
            TicketEvent(
                ticket_id=t.id,
                at=r.received_at,
                action="import",
                from_status=None,
                to_status=Status.RECEIVED.value,
                actor=who.actor,
                department=None,
                note=f"导入工单 {r.external_id}" + (f"（{details}）" if details else ""),
                data={"external_id": r.external_id, **r.details},
            )
        ]
        if t.dispatched_at is not None:
            events.append(
                TicketEvent(
                    ticket_id=t.id,
                    at=t.dispatched_at,
                    action=Action.DISPATCH.value,
                    from_status=Status.RECEIVED.value,
                    to_status=Status.SIGNED.value,
                    actor=who.actor,
                    department=t.department,
                    note="导入：原系统派单（签收时间未导出，按派单时间计）",
                )
            )
        if t.resolved_at is not None:
            events.append(
                TicketEvent(
                    ticket_id=t.id,
                    at=t.resolved_at,
                    action=Action.RESOLVE.value,
                    from_status=(Status.SIGNED if t.dispatched_at else Status.RECEIVED).value,
                    to_status=Status.RESOLVED.value,
                    actor=who.actor,
                    department=t.department,
                    note="导入：原系统办结"
                    if t.dispatched_at
                    else "导入：热线直接办结（非系统派单）",
                )
            )
        return events
