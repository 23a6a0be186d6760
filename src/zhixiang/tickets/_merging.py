"""并单: a ticket follows another's handling; each keeps its own reporter, reply and 回访."""

from __future__ import annotations

from sqlalchemy import func, select

from zhixiang.access import Principal
from zhixiang.tickets._base import StoreBase
from zhixiang.tickets._errors import InvalidInput, TransitionRefused
from zhixiang.tickets._model import TicketView
from zhixiang.tickets._tables import Ticket
from zhixiang.tickets._workflow import OPEN, STATUS_LABELS, Status

#: What a merged ticket takes over from its primary: the primary's handling, one assignment.
SHARED_FIELDS = (
    "department",
    "status",
    "dispatched_at",
    "sign_due_at",
    "signed_at",
    "due_at",
    "deadline_estimated",
    "next_escalation_at",
    "category",
)


class MergingJobs(StoreBase):
    def merge(self, principal: Principal, ticket_id: int, into: int) -> TicketView:
        """并单: `ticket_id` follows `into` for handling. Both histories record it at the same moment:
        "并入工单 #primary" on the merged ticket, "工单 #merged 并入本单" on the primary."""
        self._require(principal, "tickets.dispatch")
        with self._writing() as session:
            ticket = self._load(session, ticket_id, for_update=True)
            primary = self._load(session, into, for_update=True)
            if primary.group_id is not None:
                primary = self._load(session, primary.group_id, for_update=True)
            if primary.id == ticket.id:
                raise InvalidInput("不能把工单并入它自己", "into")
            if ticket.group_id is not None:
                raise TransitionRefused(f"工单 #{ticket.id} 已并入 #{ticket.group_id}", "action")
            if session.scalar(select(func.count()).where(Ticket.group_id == ticket.id)):
                raise TransitionRefused(f"工单 #{ticket.id} 是其他工单的主单，不能再并入", "action")
            for t in (ticket, primary):
                if Status(t.status) not in OPEN:
                    raise TransitionRefused(
                        f"工单 #{t.id} 状态为「{STATUS_LABELS[Status(t.status)]}」，不能并单",
                        "action",
                    )
            before = Status(ticket.status)
            now = self.clock()
            for name in SHARED_FIELDS:
                setattr(ticket, name, getattr(primary, name))
            ticket.group_id, ticket.updated_at = primary.id, now
            self._log(session, ticket, "merge", before, principal, f"并入工单 #{primary.id}", now)
            self._log(
                session,
                primary,
                "merge",
                Status(primary.status),
                principal,
                f"工单 #{ticket.id} 并入本单",
                now,
            )
            return self._view(ticket, session, principal)
