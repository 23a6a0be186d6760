"""受理: a draft from any channel becomes a ticket — checked, classified, routed, dispatched if sure,
with near-duplicates proposed.

Intake is the hot path: one insert of the ticket and its events, duplicate candidates from an index
of cached n-gram counts, deadlines from precomputed working-day tables.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import cache, cached_property
from operator import attrgetter
from types import SimpleNamespace
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    ClauseElement,
    DateTime,
    Dialect,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
)
from sqlalchemy.sql.compiler import SQLCompiler

from zhixiang.access import Principal
from zhixiang.tickets import _duplicates as dup
from zhixiang.tickets._base import StoreBase
from zhixiang.tickets._deadlines import deadline
from zhixiang.tickets._errors import InvalidInput, PayloadTooLarge
from zhixiang.tickets._group_commit import GroupCommit
from zhixiang.tickets._model import DuplicateView, IntakeResult, TicketDraft
from zhixiang.tickets._tables import Ticket, TicketEvent, TicketMedia
from zhixiang.tickets._workflow import OPEN, Action, Status

log = logging.getLogger(__name__)
_TICKET_COLUMNS = [c.key for c in Ticket.__table__.columns if c.key != "id"]
_EVENT_COLUMNS = ["ticket_id", "at", "actor", "action", "from_status", "to_status"]
_EVENT_COLUMNS += ["department", "note"]
_MEDIA_COLUMNS = ["ticket_id", "filename", "content_type", "size", "sha256", "data"]
_BLANK = dict.fromkeys(c.key for c in Ticket.__table__.columns)


def _insert(table: Any, columns: list[str]) -> Any:
    return insert(table).values({c: bindparam(c) for c in columns})


class _Statement:
    """A Core statement compiled once for a dialect and run on the DB-API cursor.

    Intake's three statements are each cheaper for SQLite to run than for SQLAlchemy to dispatch
    (events, compiled-cache lookup, result objects), so intake runs them on the driver directly.
    The dialect's own bind processors convert the values, so rows are stored exactly as Core
    stores them (dates as SQLite text, booleans, JSON).
    """

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = compiled.string
        self._names = list(compiled.positiontup or ()) if compiled.positional else None
        self._literals = {n: b.value for n, b in compiled.binds.items() if not b.required}
        self._processors = [
            (name, process)
            for name, bind in compiled.binds.items()
            if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        ]

    def params(self, values: dict[str, Any]) -> Any:
        """The driver's parameters for `values` and the statement's own literals."""
        values = {**self._literals, **values}
        for name, process in self._processors:
            if name in values:
                values[name] = process(values[name])
        return tuple(map(values.__getitem__, self._names)) if self._names is not None else values


@cache
def _statements(dialect: Dialect) -> tuple[_Statement, _Statement, _Statement]:
    """Intake's inserts (ticket returning its id, events, media), compiled once per dialect."""
    ticket = _insert(Ticket.__table__, _TICKET_COLUMNS).returning(Ticket.__table__.c.id)
    return (
        _Statement(ticket, dialect),
        _Statement(_insert(TicketEvent.__table__, _EVENT_COLUMNS), dialect),
        _Statement(_insert(TicketMedia.__table__, _MEDIA_COLUMNS), dialect),
    )


@cache
def _candidates(grid: bool, region: bool, point: bool, dialect: Dialect) -> _Statement:
    """The candidate query for the kinds of place a ticket has, built once per kind: each OR term
    can use its own index (grid, street/community code) only if no unindexable term is added.
    Each candidate comes with the text it is compared on, for tickets not yet in the n-gram index
    (taken in by another worker), so one statement serves both."""
    near = []
    if grid:
        near.append(Ticket.grid_id == bindparam("grid"))
    if region:
        near.append(Ticket.region_code == bindparam("region"))
    if point:
        near.append(Ticket.lat.between(bindparam("lat_lo"), bindparam("lat_hi")))
    statuses: list[Any] = [
        literal_column(f"'{s.value}'") for s in OPEN
    ]  # our own constants, inline
    query = (
        select(
            Ticket.id,
            Ticket.title,
            Ticket.region_code,
            Ticket.grid_id,
            Ticket.lat,
            Ticket.lon,
            Ticket.address,
            func.substr(Ticket.body, 1, dup.TEXT_HEAD),
            Ticket.created_at,
        )
        .where(
            Ticket.status.in_(statuses),
            Ticket.group_id.is_(None),
            Ticket.created_at >= bindparam("since"),
            or_(*near),
        )
        .order_by(Ticket.created_at.desc())
        .limit(bindparam("limit"))
    )
    return _Statement(query, dialect)


class _Candidate(NamedTuple):
    id: int
    title: str
    region_code: str | None
    grid_id: str | None
    lat: float | None
    lon: float | None
    address: str | None
    body: str
    created_at: Any  # as the driver returns it (SQLite: text), only to order candidates


class _Near(NamedTuple):
    """The candidate query's parameters for one ticket and which kinds of place it asks by."""

    params: dict[str, Any]
    grid: str | None
    region: str | None
    point: bool


class Attachment:
    """A file sent with a request, already checked by its channel for type and size."""

    __slots__ = ("content_type", "data", "filename")

    def __init__(self, filename: str | None, content_type: str, data: bytes) -> None:
        self.filename, self.content_type, self.data = filename, content_type, data


#: At most this many attachments per ticket, each at most MAX_MEDIA_BYTES (channels check first).
MAX_MEDIA = 4
MAX_MEDIA_BYTES = 5 * 1024 * 1024


class _Intake:
    """One intake checked, classified, routed and compared with its candidates, waiting to be written.

    `rows` are the candidates the database gave when it was prepared (before the limit's `_near`
    filter); `near` is how they were asked for, so batch-mates written before it can be asked the
    same question.
    """

    __slots__ = (
        "auto",
        "duplicates",
        "error",
        "events",
        "fingerprint",
        "media",
        "near",
        "now",
        "principal",
        "replay",
        "rows",
        "ticket",
        "vector",
    )

    def __init__(
        self,
        principal: Principal,
        fingerprint: str,
        ticket: Ticket,
        events: list[dict[str, Any]],
        media: list[Attachment],
        now: datetime,
        auto: bool,
        vector: dup.Vector,
        near: _Near | None,
        rows: list[_Candidate],
        duplicates: list[DuplicateView],
    ) -> None:
        self.principal, self.fingerprint, self.ticket = principal, fingerprint, ticket
        self.events, self.media, self.now, self.auto = events, media, now, auto
        self.vector, self.near, self.rows, self.duplicates = vector, near, rows, duplicates
        self.error: Exception | None = None
        self.replay = False  # its idempotency key was taken: answer with the first ticket


class IntakeJobs(StoreBase):
    def intake(
        self,
        principal: Principal,
        draft: TicketDraft,
        idempotency_key: str | None = None,
        media: list[Attachment] | None = None,
    ) -> IntakeResult:
        """Receive a request: classify, route, dispatch if confident and substantive, propose duplicates.

        A retried call with the same idempotency key returns the first ticket instead of a second,
        with the same answer (`auto_dispatched` included).
        """
        outcome = self._write_intakes([self._prepare(principal, draft, idempotency_key, media)])
        assert outcome is not None
        if isinstance(outcome[0], Exception):
            raise outcome[0]
        return outcome[0]

    async def intake_async(
        self,
        principal: Principal,
        draft: TicketDraft,
        idempotency_key: str | None = None,
        media: list[Attachment] | None = None,
    ) -> IntakeResult:
        """`intake` for callers on an event loop: intakes awaited together on one loop are written
        in one transaction (group commit), each answered once that transaction has committed.

        The answers are `intake`'s: a refused draft is refused before it is queued, a repeated
        idempotency key (in the same batch too) replays the first ticket, one intake failing
        fails only itself, and duplicate proposals see the tickets written before it in its batch.
        """
        return await self._group_commit.submit(
            self._prepare(principal, draft, idempotency_key, media)
        )

    @cached_property
    def _group_commit(self) -> GroupCommit[_Intake, IntakeResult]:
        return GroupCommit(self._write_intakes)

    def _prepare(
        self,
        principal: Principal,
        draft: TicketDraft,
        idempotency_key: str | None,
        media: list[Attachment] | None,
    ) -> _Intake:
        """Everything of an intake but its write: checks, classification, routing, duplicates."""
        self._require(principal, "tickets.intake")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 128:
            raise InvalidInput("Idempotency-Key 长度应为1–128个字符", "Idempotency-Key")
        self.check_draft(draft)
        media = media or []
        if len(media) > MAX_MEDIA:
            raise InvalidInput(f"附件最多 {MAX_MEDIA} 个，收到 {len(media)} 个", "media")
        for m in media:
            if len(m.data) > MAX_MEDIA_BYTES:
                raise PayloadTooLarge(f"附件 {m.filename or ''} 超过 5 MB", "media")
        digest = hashlib.sha256(draft.model_dump_json().encode())
        for m in media:
            digest.update(hashlib.sha256(m.data).digest())
        fingerprint = digest.hexdigest()
        now = self.clock()
        ticket, notes = self._new_ticket(principal, draft, idempotency_key, fingerprint, now)
        department = (
            self.rules.route(ticket.category, ticket.region_code) if ticket.category else None
        )
        confident = ticket.category_source == "given" or (
            (ticket.confidence or 0.0) >= self.rules.auto_dispatch_threshold
        )
        substantive = self.rules.content_check.says_something(draft.title, draft.body)
        if department is not None and confident and not substantive:
            notes.append("内容过少，无法判断诉求，待人工派单")
        vector = dup.Vector(dup.ticket_text(ticket.title, ticket.body, ticket.address))
        near = self._near_query(ticket)
        rows = self._candidate_rows(near) if near else []
        duplicates = self._proposals(ticket, vector, rows)  # outside the write lock: a proposal
        ticket.duplicate_of = duplicates[0].id if duplicates else None
        events = [
            {
                "action": "intake",
                "from_status": None,
                "to_status": Status.RECEIVED.value,
                "department": None,
                "note": "；".join(notes) or None,
            }
        ]
        auto = department is not None and confident and substantive
        if auto:
            assert department is not None
            self._dispatch(ticket, department, now)
            ticket.auto_dispatched = True
            events.append(
                {
                    "action": Action.DISPATCH.value,
                    "from_status": Status.RECEIVED.value,
                    "to_status": Status.DISPATCHED.value,
                    "department": department,
                    "note": "自动派单",
                }
            )
        return _Intake(
            principal, fingerprint, ticket, events, media, now, auto, vector, near, rows, duplicates
        )

    def _write_intakes(
        self, batch: Sequence[_Intake], wait: bool = True
    ) -> list[IntakeResult | Exception] | None:
        """Write `batch` in one transaction, each intake in its own savepoint so that one failing
        (a taken idempotency key, a refused row) leaves the others in; then answer each.

        Returns None, having written nothing, when `wait` is false and another writer holds the
        database. An exception raised here means the transaction failed and nothing was written.
        """
        dialect = self._writer.dialect
        sqlite = dialect.name == "sqlite"
        if sqlite and not cast(threading.Lock, self._write_lock).acquire(blocking=wait):
            return None
        try:
            raw = self._writer.raw_connection()
            try:
                cursor = raw.cursor()
                if sqlite and not self._begin_immediate(cursor, wait):
                    return None
                written: list[_Intake] = []
                for item in batch:
                    cursor.execute("SAVEPOINT intake")
                    try:
                        self._see_batch_mates(item, written)
                        item.ticket.id = self._insert(cursor, item)
                    except Exception as exc:
                        cursor.execute("ROLLBACK TO SAVEPOINT intake")
                        item.error = exc
                        # the idempotency key was used before (or earlier in this batch)
                        item.replay = isinstance(exc, dialect.loaded_dbapi.IntegrityError)
                    else:
                        written.append(item)
                    cursor.execute("RELEASE SAVEPOINT intake")
                raw.commit()
            except BaseException:
                raw.rollback()
                for item in batch:
                    # unwritten again: a transient Ticket has no id, which Mapped[int] cannot express
                    item.ticket.id = None  # type: ignore[assignment]
                raise
            finally:
                raw.close()
        finally:
            if sqlite:
                cast(threading.Lock, self._write_lock).release()
        return [self._answer(item) for item in batch]

    @staticmethod
    def _begin_immediate(cursor: Any, wait: bool) -> bool:
        """Take SQLite's write lock (db.py's BEGIN); without `wait`, False at once if it is taken."""
        if wait:
            cursor.execute("BEGIN IMMEDIATE")
            return True
        (timeout,) = cursor.execute("PRAGMA busy_timeout").fetchone()
        cursor.execute("PRAGMA busy_timeout=0")
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            return False
        finally:
            cursor.execute(f"PRAGMA busy_timeout={int(timeout)}")
        return True

    def _insert(self, cursor: Any, item: _Intake) -> int:
        """Write the ticket, its events and media; the ticket's id."""
        insert_ticket, insert_event, insert_media = _statements(self._writer.dialect)
        ticket = item.ticket
        cursor.execute(insert_ticket.sql, insert_ticket.params(_ticket_values(ticket)))
        (ticket_id,) = cast(tuple[int], cursor.fetchone())
        common = {"ticket_id": ticket_id, "at": item.now, "actor": item.principal.actor}
        cursor.executemany(
            insert_event.sql, [insert_event.params({**common, **e}) for e in item.events]
        )
        if item.media:
            cursor.executemany(
                insert_media.sql,
                [
                    insert_media.params(
                        {
                            "ticket_id": ticket_id,
                            "filename": m.filename,
                            "content_type": m.content_type,
                            "size": len(m.data),
                            "sha256": hashlib.sha256(m.data).hexdigest(),
                            "data": m.data,
                        }
                    )
                    for m in item.media
                ],
            )
        return int(ticket_id)

    def _answer(self, item: _Intake) -> IntakeResult | Exception:
        """An intake's answer once its transaction has committed."""
        ticket = item.ticket
        if ticket.id is not None:
            self.index.add(ticket.id, item.vector)
            view = self._view(ticket, None, item.principal).model_copy(
                update={"media": len(item.media)}
            )
            return IntakeResult(
                ticket=view, created=True, auto_dispatched=item.auto, duplicates=item.duplicates
            )
        assert item.error is not None
        if not item.replay:
            return item.error
        try:
            replay = self._replay(item.principal, ticket.idempotency_key or "", item.fingerprint)
        except Exception as exc:
            return exc
        return item.error if replay is None else replay

    def _new_ticket(
        self,
        principal: Principal,
        draft: TicketDraft,
        idempotency_key: str | None,
        fingerprint: str,
        now: datetime,
    ) -> tuple[Ticket, list[str]]:
        category, source, confidence, version = draft.category, "given", None, None
        notes: list[str] = []
        if category is None and self.classifier is not None:
            prediction = self.classifier.predict([draft.title], [draft.body])[0]
            if prediction.category in self.rules.category_names:
                category, source = prediction.category, "model"
                confidence, version = float(prediction.confidence), self.classifier.version
                notes.append(f"模型分类 {category}（置信度 {confidence:.2f}）")
        # A plain record with the table's columns, not an ORM object: intake inserts it with Core,
        # and the ORM's attribute instrumentation would cost more than the insert.
        ticket = cast(Ticket, SimpleNamespace(**_BLANK))
        vars(ticket).update(
            token=uuid.uuid4().hex,
            channel=draft.channel,
            title=draft.title,
            body=draft.body,
            reporter_name=draft.reporter_name,
            reporter_contact=draft.reporter_contact,
            confidential=draft.confidential,
            address=draft.address,
            region_code=draft.region_code,
            grid_id=draft.grid_id,
            lat=draft.lat,
            lon=draft.lon,
            category=category,
            category_source=source if category else None,
            confidence=confidence,
            model_version=version,
            priority=draft.priority or self.rules.default_priority,
            status=Status.RECEIVED,
            created_at=now,
            updated_at=now,
            auto_dispatched=False,
            misrouted=False,
            deadline_estimated=False,
            extensions=0,
            reminders=0,
            supervised=False,
            idempotency_scope=principal.actor if idempotency_key else None,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
        return ticket, notes

    def _replay(self, principal: Principal, key: str, fingerprint: str) -> IntakeResult | None:
        with self._session() as session:
            ticket = session.scalar(
                select(Ticket).where(
                    Ticket.idempotency_scope == principal.actor, Ticket.idempotency_key == key
                )
            )
            if ticket is None:
                return None
            if ticket.fingerprint != fingerprint:
                raise InvalidInput(
                    "该 Idempotency-Key 已用于内容不同的请求；重试须原样重发，新诉求须用新键",
                    "Idempotency-Key",
                )
            return IntakeResult(
                ticket=self._view(ticket, session, principal),
                created=False,
                auto_dispatched=ticket.auto_dispatched,
                duplicates=[],
            )

    def check_draft(self, draft: TicketDraft) -> None:
        limits = self.rules.text_limits
        if len(draft.title) > limits.title:
            raise InvalidInput(f"标题过长：{len(draft.title)} 字，上限 {limits.title}", "title")
        if len(draft.body) > limits.body:
            raise InvalidInput(f"诉求内容过长：{len(draft.body)} 字，上限 {limits.body}", "body")
        if draft.region_code is not None:
            self.rules.check_region(draft.region_code)
        if draft.category is not None:
            self._check_category(draft.category)
        if draft.priority is not None and draft.priority not in self.rules.priorities:
            known = "、".join(self.rules.priorities)
            raise InvalidInput(f"未知的时限类型 {draft.priority!r}（可选：{known}）", "priority")
        if (draft.lat is None) != (draft.lon is None):
            raise InvalidInput("坐标须同时给出纬度和经度", "lat")

    def _dispatch(self, ticket: Ticket, department: str, now: datetime) -> None:
        priority = self.rules.priorities[ticket.priority]
        ticket.department = department
        ticket.dispatched_at = now
        ticket.signed_at = None
        ticket.sign_due_at, est_sign = deadline(now, priority.sign.time_limit(), self.calendar)
        ticket.due_at, est_due = deadline(now, priority.handle.time_limit(), self.calendar)
        ticket.deadline_estimated = est_sign or est_due
        ticket.next_escalation_at = ticket.due_at
        ticket.escalation_level = ticket.escalation_region = None
        ticket.status = Status.DISPATCHED

    # -- 并单 proposals ---------------------------------------------------------------------------

    def _near_query(self, ticket: Ticket) -> _Near | None:
        """How to ask for the open tickets near `ticket` in place and time; None if it has no place."""
        rule = self.rules.duplicates
        grid = ticket.grid_id or None
        region = ticket.region_code if ticket.region_code and len(ticket.region_code) >= 9 else None
        point = ticket.lat is not None and ticket.lon is not None and rule.radius_m > 0
        if not (grid or region or point):
            return None
        d = rule.radius_m / 111_000
        params = {
            "since": ticket.created_at - timedelta(hours=rule.window_hours),
            "grid": grid,
            "region": region,
            "lat_lo": (ticket.lat or 0.0) - d,
            "lat_hi": (ticket.lat or 0.0) + d,
            "limit": rule.max_candidates,
        }
        return _Near(params, grid, region, point)

    def _candidate_rows(self, near: _Near) -> list[_Candidate]:
        """The database's candidates, newest first, before `_near` narrows them."""
        statement = _candidates(bool(near.grid), bool(near.region), near.point, self.engine.dialect)
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(statement.sql, statement.params(near.params))
            return list(map(_Candidate._make, cursor.fetchall()))
        finally:
            raw.close()

    def _proposals(
        self,
        ticket: Ticket,
        vector: dup.Vector,
        rows: list[_Candidate],
        unwritten: dict[int, dup.Vector] | None = None,
    ) -> list[DuplicateView]:
        """Candidates near in place whose text is alike, most similar first. `unwritten` are the
        vectors of batch-mates among `rows`, not committed yet and so not cached."""
        rows = [r for r in rows if self._near(ticket, r)]
        texts = {r.id: r for r in rows}

        def fetch(ids: list[int]) -> dict[int, str]:
            return {
                i: dup.ticket_text(texts[i].title, texts[i].body, texts[i].address) for i in ids
            }

        scores = self.index.scores(vector, [r.id for r in rows], fetch, unwritten)
        threshold = self.rules.duplicates.threshold
        found = [
            DuplicateView(id=r.id, title=r.title, score=round(s, 3))
            for r, s in zip(rows, scores, strict=True)
            if s >= threshold
        ]
        return sorted(found, key=lambda d: -d.score)

    def _see_batch_mates(self, item: _Intake, written: list[_Intake]) -> None:
        """Propose among the candidates the tickets written before `item` in its transaction too,
        as if each had committed before `item` was prepared: the candidate query's own conditions,
        newest first, its limit."""
        near = item.near
        if near is None or not written:
            return
        mates = [m for m in written if _admits(near, m.ticket)]
        if not mates:
            return
        stored = _stored_time(self._writer.dialect)
        rows = [
            _Candidate(
                m.ticket.id,
                m.ticket.title,
                m.ticket.region_code,
                m.ticket.grid_id,
                m.ticket.lat,
                m.ticket.lon,
                m.ticket.address,
                m.ticket.body[: dup.TEXT_HEAD],
                stored(m.ticket.created_at),
            )
            for m in mates
        ]
        rows = sorted(rows + item.rows, key=attrgetter("created_at"), reverse=True)
        rows = rows[: near.params["limit"]]
        unwritten = {m.ticket.id: m.vector for m in mates}
        item.duplicates = self._proposals(item.ticket, item.vector, rows, unwritten)
        item.ticket.duplicate_of = item.duplicates[0].id if item.duplicates else None

    def _near(self, ticket: Ticket, row: _Candidate) -> bool:
        """Same grid, same community/street code, or within the radius when both have coordinates."""
        if ticket.grid_id and row.grid_id == ticket.grid_id:
            return True
        if (
            ticket.region_code
            and len(ticket.region_code) >= 9
            and row.region_code == ticket.region_code
        ):
            return True
        if None in (ticket.lat, ticket.lon, row.lat, row.lon):
            return False
        distance = dup.distance_m(ticket.lat, ticket.lon, row.lat, row.lon)  # type: ignore[arg-type]
        return distance <= self.rules.duplicates.radius_m


def _admits(near: _Near, ticket: Ticket) -> bool:
    """Whether the candidate query (`_candidates`) would return `ticket`, a new one."""
    params = near.params
    return (
        ticket.status in OPEN
        and ticket.group_id is None
        and ticket.created_at >= params["since"]
        and bool(
            (near.grid and ticket.grid_id == near.grid)
            or (near.region and ticket.region_code == near.region)
            or (
                near.point
                and ticket.lat is not None
                and params["lat_lo"] <= ticket.lat <= params["lat_hi"]
            )
        )
    )


def _ticket_values(ticket: Ticket) -> dict[str, Any]:
    return {c: getattr(ticket, c) for c in _TICKET_COLUMNS}


@cache
def _stored_time(dialect: Dialect) -> Callable[[datetime], Any]:
    """A time as the candidate query returns `created_at` (SQLite: text), to order batch-mates."""
    process = DateTime().dialect_impl(dialect).bind_processor(dialect)
    return process or (lambda moment: moment)
