"""What every job of the ticket store shares: the database, the rules, the clock, and the ticket view.

The store's jobs (intake, handling, merging, escalation, queries, metrics, import) are mixins over
this base, each in its own module; `TicketStore` in `_store.py` puts them together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from zhixiang.access import DepartmentDirectory, Principal, load_departments
from zhixiang.db import make_engine, migrate
from zhixiang.tickets._calendar import WorkCalendar
from zhixiang.tickets._deadlines import default_calendar
from zhixiang.tickets._duplicates import NgramIndex
from zhixiang.tickets._errors import Forbidden, InvalidInput, NotFound
from zhixiang.tickets._model import EventView, FollowUpView, TicketView
from zhixiang.tickets._privacy import mask_contact, mask_name
from zhixiang.tickets._protocols import Classifier, ReplyScorer
from zhixiang.tickets._rules import RequestRules, load_rules
from zhixiang.tickets._tables import FollowUp, Ticket, TicketEvent, TicketMedia
from zhixiang.tickets._workflow import ACTION_LABELS, HANDLING, STATUS_LABELS, Action, Status

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "tickets_alembic_version"
#: The directory code of the 12345 dispatch centre, whose queue holds tickets waiting for 派单.
DISPATCH_CENTER = "center"

EVENT_LABELS = {
    **{a.value: label for a, label in ACTION_LABELS.items()},
    "intake": "受理",
    "merge": "并单",
    "import": "导入",
}


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class StoreBase:
    """The database and the configuration every job reads; no operation of its own."""

    def __init__(
        self,
        url: str,
        rules: RequestRules | None = None,
        classifier: Classifier | None = None,
        clock: Callable[[], datetime] = utcnow,
        *,
        calendar: WorkCalendar | None = None,
        directory: DepartmentDirectory | None = None,
        reply_scorer: ReplyScorer | None = None,
    ) -> None:
        self.engine = make_engine(url)
        sqlite = self.engine.dialect.name == "sqlite"
        self._writer = make_engine(url, immediate=True) if sqlite else self.engine
        # One writer at a time inside this process: SQLite would otherwise make threads sleep-poll.
        self._write_lock: AbstractContextManager[object] = (
            threading.Lock() if sqlite else nullcontext()
        )
        self.directory = directory or load_departments()
        self.rules = rules or load_rules(directory=self.directory)
        self.classifier = classifier
        self.reply_scorer = reply_scorer
        self.clock = clock
        self.calendar = calendar or default_calendar()
        self.index = NgramIndex()
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self._writer, expire_on_commit=False)

    def close(self) -> None:
        """Release the connection pools."""
        self.engine.dispose()
        self._writer.dispose()

    def migrate(self) -> str:
        """Bring the schema to the newest revision (a no-op when it is there); return that revision."""
        return migrate(self._writer, MIGRATIONS, VERSION_TABLE)

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """A write transaction, committed on success and rolled back on any refusal."""
        with self._write_lock, self._write.begin() as session:
            yield session

    # -- who may -----------------------------------------------------------------------------------

    @staticmethod
    def _require(principal: Principal, permission: str) -> None:
        principal.require(permission)

    @staticmethod
    def _require_department(principal: Principal, ticket: Ticket) -> None:
        """Handlers act on and read only tickets of their own department (or its branches)."""
        if not principal.sees_department(ticket.department):
            raise Forbidden(
                f"工单 #{ticket.id} 不属于{principal.department or '调用者'}所在部门", "department"
            )

    # -- checks ------------------------------------------------------------------------------------

    def _check_category(self, category: str) -> None:
        if category not in self.rules.category_names:
            known = "、".join(self.rules.category_names)
            raise InvalidInput(f"未知的一级分类 {category!r}（可选：{known}）", "category")

    def check_department(self, department: str | None, field: str = "department") -> str:
        """A handling department of the directory, by code (a name or alias is accepted and resolved)."""
        found = self.directory.get(department)
        if found is None:
            raise InvalidInput(f"未知的部门 {department!r}（见部门目录）", field)
        if found.code == DISPATCH_CENTER:
            raise InvalidInput("派单中心不是承办部门", field)
        return found.code

    # -- rows --------------------------------------------------------------------------------------

    def _load(self, session: Session, ticket_id: int, for_update: bool = False) -> Ticket:
        query = select(Ticket).where(Ticket.id == ticket_id)
        if for_update and self.engine.dialect.name == "postgresql":
            query = query.with_for_update()
        ticket = session.scalar(query)
        if ticket is None:
            raise NotFound(f"没有编号为 {ticket_id} 的工单", "ticket_id")
        return ticket

    @staticmethod
    def _log(
        session: Session,
        ticket: Ticket,
        action: Action | str,
        before: Status | str | None,
        principal: Principal,
        note: str | None,
        at: datetime | None = None,
        data: dict[str, object] | None = None,
    ) -> None:
        session.execute(
            insert(TicketEvent).values(
                ticket_id=ticket.id,
                at=at or ticket.updated_at,
                action=str(action),
                from_status=before,
                to_status=ticket.status,
                actor=principal.actor,
                department=ticket.department,
                note=note,
                data=data,
            )
        )

    def _view(
        self, ticket: Ticket, session: Session | None = None, principal: Principal | None = None
    ) -> TicketView:
        """The staff view: reporter masked; hidden from departments when the ticket is confidential."""
        status = Status(ticket.status)
        hide = principal is not None and not principal.citywide and ticket.confidential
        history: list[EventView] = []
        follow_ups: list[FollowUpView] = []
        media = 0
        if session is not None:
            session.flush()
            history = [
                EventView(
                    at=e.at,
                    action=e.action,
                    label=EVENT_LABELS.get(e.action, e.action),
                    from_status=e.from_status,
                    to_status=e.to_status,
                    actor=e.actor,
                    department=e.department,
                    note=e.note,
                )
                for e in session.scalars(
                    select(TicketEvent)
                    .where(TicketEvent.ticket_id == ticket.id)
                    .order_by(TicketEvent.id)
                )
            ]
            follow_ups = [
                FollowUpView(
                    at=f.at,
                    reached=f.reached,
                    responded=f.responded,
                    solved=f.solved,
                    satisfaction=f.satisfaction,
                    comment=f.comment,
                )
                for f in session.scalars(
                    select(FollowUp).where(FollowUp.ticket_id == ticket.id).order_by(FollowUp.id)
                )
            ]
            media = (
                session.scalar(select(func.count()).where(TicketMedia.ticket_id == ticket.id)) or 0
            )
        return TicketView(
            id=ticket.id,
            token=ticket.token,
            channel=ticket.channel,
            title=ticket.title,
            body=ticket.body,
            reporter_name=None if hide else mask_name(ticket.reporter_name),
            reporter_contact=(
                ("保密" if ticket.reporter_contact else None)
                if hide
                else mask_contact(ticket.reporter_contact)
            ),
            confidential=ticket.confidential,
            address=ticket.address,
            region_code=ticket.region_code,
            grid_id=ticket.grid_id,
            lat=ticket.lat,
            lon=ticket.lon,
            category=ticket.category,
            category_source=ticket.category_source,
            confidence=ticket.confidence,
            model_version=ticket.model_version,
            department=ticket.department,
            department_name=self.directory.name_of(ticket.department),
            priority=ticket.priority,
            status=status,
            status_label=STATUS_LABELS[status],
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
            dispatched_at=ticket.dispatched_at,
            sign_due_at=ticket.sign_due_at,
            signed_at=ticket.signed_at,
            due_at=ticket.due_at,
            resolved_at=ticket.resolved_at,
            archived_at=ticket.archived_at,
            deadline_estimated=ticket.deadline_estimated,
            overdue=status in HANDLING
            and ticket.due_at is not None
            and self.clock() > ticket.due_at,
            extensions=ticket.extensions,
            reminders=ticket.reminders,
            supervised=ticket.supervised,
            escalation_level=ticket.escalation_level,
            escalation_region=ticket.escalation_region,
            reply=ticket.reply,
            reply_score=ticket.reply_score,
            reply_problems=list(ticket.reply_problems or []),
            media=media,
            group_id=ticket.group_id,
            duplicate_of=ticket.duplicate_of,
            history=history,
            follow_ups=follow_ups,
        )
