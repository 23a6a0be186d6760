"""超期升级: an overdue ticket climbs the region tree 网格 → 社区 → 街道 → 区 → 市, one level per period."""

from __future__ import annotations

from sqlalchemy import select

from zhixiang.access import SYSTEM, Principal
from zhixiang.tickets._base import StoreBase
from zhixiang.tickets._deadlines import deadline
from zhixiang.tickets._model import TicketView
from zhixiang.tickets._rules import REGION_LEVELS
from zhixiang.tickets._tables import Ticket
from zhixiang.tickets._workflow import HANDLING, Action, Status


class EscalationJobs(StoreBase):
    def escalate_overdue(self, principal: Principal = SYSTEM) -> list[TicketView]:
        """Move each overdue ticket one level up its region tree and mark it supervised (督办)."""
        self._require(principal, "tickets.escalate")
        now = self.clock()
        every = self.rules.escalation.every.time_limit()
        changed = []
        with self._writing() as session:
            overdue = session.scalars(
                select(Ticket).where(
                    Ticket.status.in_([s.value for s in HANDLING]),
                    Ticket.next_escalation_at <= now,
                    Ticket.group_id.is_(None),
                )
            ).all()
            for ticket in overdue:
                chain = self.rules.region_chain(ticket.region_code, ticket.grid_id)
                levels = [level for level, _ in chain]
                at = levels.index(ticket.escalation_level) if ticket.escalation_level else 0
                level, region = chain[min(at + 1, len(chain) - 1)]
                ticket.escalation_level, ticket.escalation_region = level, region
                ticket.supervised, ticket.updated_at = True, now
                top = level == REGION_LEVELS[-1]
                ticket.next_escalation_at = None if top else deadline(now, every, self.calendar)[0]
                note = f"超期自动升级督办：{level} {region}"
                self._log(session, ticket, Action.SUPERVISE, Status(ticket.status), principal, note)
                changed.append(self._view(ticket, session, principal))
        return changed
