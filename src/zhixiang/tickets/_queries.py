"""Reading tickets: one ticket, search, queues, the public views, media, training examples.

Every filter and the page are part of the SQL query (never applied after a limit); staff reads
need `tickets.read` and handlers see only their own department's tickets.
"""

from __future__ import annotations

from sqlalchemy import Select, or_, select

from zhixiang.access import Principal
from zhixiang.identity import region_prefix
from zhixiang.tickets._base import DISPATCH_CENTER, StoreBase, naive_utc
from zhixiang.tickets._errors import Forbidden, NotFound
from zhixiang.tickets._model import SearchFilters, TicketView
from zhixiang.tickets._privacy import CLOSED, PublicTicket, public_view
from zhixiang.tickets._tables import Ticket, TicketMedia
from zhixiang.tickets._workflow import HANDLING, Status

_HANDLING = [s.value for s in HANDLING]
_CLOSED = [s.value for s in CLOSED]


class QueryJobs(StoreBase):
    def get(self, principal: Principal, ticket_id: int, history: bool = True) -> TicketView:
        """One ticket with its history; a handler sees only its own department's."""
        self._require(principal, "tickets.read")
        with self._session() as session:
            ticket = self._load(session, ticket_id)
            self._require_department(principal, ticket)
            return self._view(ticket, session if history else None, principal)

    def public_get(self, ticket_id: int) -> PublicTicket:
        """What anyone may see of one ticket (Open311, public pages)."""
        with self._session() as session:
            return public_view(self._view(self._load(session, ticket_id)))

    def by_token(self, token: str) -> PublicTicket:
        """The ticket an Open311 client holds a token for (the token is given at intake)."""
        if len(token) != 32 or not all(c in "0123456789abcdef" for c in token):
            raise NotFound(f"没有与令牌 {token!r} 对应的工单", "token")
        with self._session() as session:
            ticket = session.scalar(select(Ticket).where(Ticket.token == token))
            if ticket is None:
                raise NotFound(f"没有与令牌 {token} 对应的工单", "token")
            return public_view(self._view(ticket))

    def search(self, principal: Principal, filters: SearchFilters) -> list[TicketView]:
        """Tickets matching all given filters, newest first; handlers are held to their own."""
        self._require(principal, "tickets.read")
        department = filters.department
        if department is not None:
            department = self._known_department(department)
            if not principal.sees_department(department):
                raise Forbidden("部门只能查看本部门的工单", "department")
        query = self._filtered(filters, department)
        if not principal.citywide:
            own = [principal.department or ""]
            if principal.department is not None and principal.department in self.directory:
                own += [d.code for d in self.directory.descendants(principal.department)]
            query = query.where(Ticket.department.in_(own))
        with self._session() as session:
            return [self._view(t, None, principal) for t in session.scalars(query)]

    def public_search(self, filters: SearchFilters) -> list[PublicTicket]:
        """The public list (Open311 GET requests): the same filters, public views only."""
        department = self._known_department(filters.department) if filters.department else None
        with self._session() as session:
            return [
                public_view(self._view(t))
                for t in session.scalars(self._filtered(filters, department))
            ]

    def _known_department(self, name: str) -> str:
        found = self.directory.get(name)
        if found is None:
            raise NotFound(f"部门目录中没有“{name}”", "department")
        return found.code

    def _filtered(self, filters: SearchFilters, department: str | None) -> Select[Ticket]:
        query = select(Ticket)
        if filters.category is not None:
            self._check_category(filters.category)
            query = query.where(Ticket.category == filters.category)
        if filters.uncategorised is not None:
            missing = Ticket.category.is_(None)
            query = query.where(missing if filters.uncategorised else ~missing)
        if department is not None:
            query = query.where(Ticket.department == department)
        if filters.status is not None:
            query = query.where(Ticket.status == filters.status.value)
        if filters.state is not None:
            closed = Ticket.status.in_(_CLOSED)
            query = query.where(closed if filters.state == "closed" else ~closed)
        if filters.region is not None:
            self.rules.check_region(filters.region, "region")
            query = query.where(Ticket.region_code.startswith(region_prefix(filters.region)))
        if filters.q:
            like = f"%{filters.q}%"
            query = query.where(or_(Ticket.title.like(like), Ticket.body.like(like)))
        if filters.since is not None:
            query = query.where(Ticket.created_at >= naive_utc(filters.since))
        if filters.until is not None:
            query = query.where(Ticket.created_at < naive_utc(filters.until))
        if filters.overdue is not None:
            late = Ticket.status.in_(_HANDLING) & (Ticket.due_at < self.clock())
            query = query.where(late if filters.overdue else ~late)
        if filters.deadline_estimated is not None:
            query = query.where(Ticket.deadline_estimated.is_(filters.deadline_estimated))
        return query.order_by(Ticket.id.desc()).limit(filters.limit).offset(filters.offset)

    def queue(
        self, principal: Principal, department: str, limit: int = 50, offset: int = 0
    ) -> list[TicketView]:
        """A department's open work, soonest deadline first; `center` is the manual-dispatch queue."""
        self._require(principal, "tickets.read")
        code = self._known_department(department)
        if not principal.sees_department(code):
            raise Forbidden("部门只能查看本部门的队列", "department")
        if code == DISPATCH_CENTER:
            query = select(Ticket).where(Ticket.status == Status.RECEIVED.value).order_by(Ticket.id)
        else:
            query = (
                select(Ticket)
                .where(Ticket.department == code, Ticket.status.in_(_HANDLING))
                .order_by(Ticket.due_at, Ticket.id)
            )
        with self._session() as session:
            rows = session.scalars(query.limit(limit).offset(offset))
            return [self._view(t, None, principal) for t in rows]

    def media(self, principal: Principal, ticket_id: int, number: int) -> tuple[str, bytes]:
        """The `number`-th attachment (from 1) of a ticket, for staff who may read the ticket."""
        self._require(principal, "tickets.read")
        with self._session() as session:
            self._require_department(principal, self._load(session, ticket_id))
            row = session.scalar(
                select(TicketMedia)
                .where(TicketMedia.ticket_id == ticket_id)
                .order_by(TicketMedia.id)
                .offset(max(number - 1, 0))
                .limit(1)
            )
            if row is None or number < 1:
                raise NotFound(f"工单 #{ticket_id} 没有第 {number} 个附件", "number")
            return row.content_type, row.data

    def training_examples(self) -> tuple[list[str], list[str], list[str]]:
        """Titles, bodies and confirmed categories of handled tickets (answered, followed up, archived)."""
        with self._session() as session:
            rows = session.execute(
                select(Ticket.title, Ticket.body, Ticket.category).where(
                    Ticket.status.in_(_CLOSED), Ticket.category.is_not(None)
                )
            ).all()
        return [r.title for r in rows], [r.body for r in rows], [r.category for r in rows]
