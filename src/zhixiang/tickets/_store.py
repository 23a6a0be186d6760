"""The ticket store: intake, the workflow, queues, search, keys and escalation over SQLAlchemy.

Every public method runs in one transaction and checks everything before it changes anything, so a
refused request leaves the store as it was.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Row, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from zhixiang.db import make_engine, migrate
from zhixiang.tickets import _duplicates as dup
from zhixiang.tickets._deadlines import deadline, end_of_working_day_after
from zhixiang.tickets._errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    TransitionRefused,
    Unauthenticated,
)
from zhixiang.tickets._metrics import (
    AssignmentRow,
    DispatchRow,
    FollowUpRow,
    MetricsReport,
    report,
)
from zhixiang.tickets._models import ApiKey, FollowUp, Ticket, TicketEvent
from zhixiang.tickets._rules import REGION_LEVELS, RequestRules, load_rules
from zhixiang.tickets._types import (
    SYSTEM,
    Classifier,
    Command,
    DuplicateView,
    EventView,
    FollowUpView,
    IntakeResult,
    KeyView,
    Principal,
    ReplyScorer,
    SearchFilters,
    TicketDraft,
    TicketView,
    mask_contact,
    mask_name,
)
from zhixiang.tickets._workflow import (
    ACTION_LABELS,
    HANDLING,
    OPEN,
    STATUS_LABELS,
    TRANSITIONS,
    Action,
    Role,
    Status,
    next_status,
)

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "tickets_alembic_version"
log = logging.getLogger(__name__)
DISPATCH_CENTER = "center"
KEY_CACHE_SECONDS = 5.0
_TICKET_COLUMNS = [c for c in Ticket.__table__.columns if c.key != "id"]
_INSERT_TICKET = insert(Ticket.__table__).returning(Ticket.__table__.c.id)
_INSERT_EVENT = insert(TicketEvent.__table__)


def _no_data_officer(principal: Principal | None) -> None:
    """Data officers administer the data hub; citizens' tickets are not theirs to read."""
    if principal is not None and principal.scope == "data_officer":
        raise Forbidden("数据管理员密钥不能查看工单", "api_key")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def open_store(
    url: str | None = None,
    with_classifier: bool = True,
    reply_scorer: ReplyScorer | None = None,
) -> TicketStore:
    """The configured store (settings' tickets_url), migrated, with the shipped classifier if present.

    Without a classifier every ticket lacking a category waits for manual dispatch, which is safe.
    """
    from zhixiang.config import load_settings

    classifier = _load_classifier() if with_classifier else None
    store = TicketStore(
        url or load_settings().tickets_url, classifier=classifier, reply_scorer=reply_scorer
    )
    store.migrate()
    return store


def _load_classifier() -> Classifier | None:
    try:
        from zhixiang.classify import load_model
    except ImportError:
        log.warning("zhixiang.classify 不可用：未分类的诉求将进入人工派单队列")
        return None
    from zhixiang.config import load_settings

    try:
        return load_model(load_settings().classifier_model)
    except Exception as exc:  # a broken model file must not stop intake: tickets wait for a person
        log.warning("分类模型加载失败（%r）：未分类的诉求将进入人工派单队列", exc)
        return None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TicketStore:
    """All ticket operations; the web layer and the CLI call these and nothing below them."""

    def __init__(
        self,
        url: str,
        rules: RequestRules | None = None,
        classifier: Classifier | None = None,
        clock: Callable[[], datetime] = utcnow,
        reply_scorer: ReplyScorer | None = None,
    ) -> None:
        self.engine = make_engine(url)
        self.reply_scorer = reply_scorer
        sqlite = self.engine.dialect.name == "sqlite"
        self._writer = make_engine(url, immediate=True) if sqlite else self.engine
        # One writer at a time inside this process: SQLite would otherwise make threads sleep-poll.
        self._write_lock: AbstractContextManager[object] = (
            threading.Lock() if sqlite else nullcontext()
        )
        self.rules = rules or load_rules()
        self.classifier = classifier
        self.clock = clock
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self._writer, expire_on_commit=False)
        self._keys: dict[str, tuple[Principal, float]] = {}

    def close(self) -> None:
        """Release the connection pools."""
        self.engine.dispose()
        self._writer.dispose()

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """A write transaction, committed on success and rolled back on any refusal."""
        with self._write_lock, self._write.begin() as session:
            yield session

    # -- schema ---------------------------------------------------------------------------------

    def migrate(self) -> str:
        """Bring the schema to the newest revision (a no-op when it is there); return that revision."""
        return migrate(self._writer, MIGRATIONS, VERSION_TABLE)

    # -- API keys -------------------------------------------------------------------------------

    def create_key(
        self, scope: str, department: str | None = None, label: str | None = None
    ) -> tuple[str, KeyView]:
        """A new key; the secret is returned once and only its hash is stored."""
        if scope == "department":
            self._check_department(department, field="department")
        elif scope in ("intake", "data_officer"):
            department = None
        else:
            raise InvalidInput(
                f"密钥范围应为 intake、department 或 data_officer，收到 {scope!r}", "scope"
            )
        key_id = secrets.token_hex(4)
        secret = f"zx_{key_id}_{secrets.token_urlsafe(24)}"
        row = ApiKey(
            id=key_id,
            secret_hash=_hash(secret),
            scope=scope,
            department=department,
            label=label,
            created_at=self.clock(),
        )
        with self._writing() as session:
            session.add(row)
        return secret, _key_view(row)

    def list_keys(self) -> list[KeyView]:
        with self._session() as session:
            return [
                _key_view(k) for k in session.scalars(select(ApiKey).order_by(ApiKey.created_at))
            ]

    def revoke_key(self, key_id: str) -> KeyView:
        with self._writing() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                raise NotFound(f"没有编号为 {key_id} 的密钥", "key_id")
            row.revoked_at = row.revoked_at or self.clock()
            self._keys.clear()
            return _key_view(row)

    def authenticate(self, secret: str | None) -> Principal:
        """The key's principal; remembered for KEY_CACHE_SECONDS, so a revocation made by another
        process takes effect within that time (at once in this one)."""
        if not secret:
            raise Unauthenticated("需要 API 密钥（请求头 X-API-Key）", "api_key")
        digest, now = _hash(secret), time.monotonic()
        cached = self._keys.get(digest)
        if cached and cached[1] > now:
            return cached[0]
        with self._session() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.secret_hash == digest))
        if row is None or row.revoked_at is not None:
            raise Unauthenticated("API 密钥无效或已吊销", "api_key")
        principal = Principal(key_id=row.id, scope=row.scope, department=row.department)  # type: ignore[arg-type]
        self._keys[digest] = (principal, now + KEY_CACHE_SECONDS)
        return principal

    # -- intake ---------------------------------------------------------------------------------

    def intake(
        self, principal: Principal, draft: TicketDraft, idempotency_key: str | None = None
    ) -> IntakeResult:
        """Receive a request: classify, route, dispatch if confident, propose duplicates.

        A retried call with the same idempotency key returns the first ticket instead of a second.
        """
        if principal.scope != "intake":
            raise Forbidden("只有受理（intake）范围的密钥可以登记诉求", "api_key")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 128:
            raise InvalidInput("Idempotency-Key 长度应为1–128个字符", "Idempotency-Key")
        self._check_draft(draft)
        fingerprint = hashlib.sha256(draft.model_dump_json().encode()).hexdigest()
        category, source, confidence, version = draft.category, "given", None, None
        if category is None and self.classifier is not None:
            prediction = self.classifier.predict([draft.title], [draft.body])[0]
            if prediction.category in self.rules.category_names:
                category, source = prediction.category, "model"
                confidence, version = float(prediction.confidence), self.classifier.version
        department = self.rules.route(category, draft.region_code) if category else None
        auto = department is not None and (
            source == "given" or (confidence or 0.0) >= self.rules.auto_dispatch_threshold
        )
        now = self.clock()
        ticket = Ticket(
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
            idempotency_scope=principal.key_id if idempotency_key else None,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint,
        )
        with self._session() as session:  # outside the write lock: only a proposal
            duplicates = self._duplicates(session, ticket)
        ticket.duplicate_of = duplicates[0].id if duplicates else None
        note = f"模型分类 {category}（置信度 {confidence:.2f}）" if source == "model" else None
        events = [
            {
                "action": "intake",
                "from_status": None,
                "to_status": Status.RECEIVED.value,
                "department": None,
                "note": note,
            }
        ]
        if auto:
            assert department is not None
            self._dispatch(ticket, department, now)
            ticket.auto_dispatched = source == "model"
            events.append(
                {
                    "action": Action.DISPATCH.value,
                    "from_status": Status.RECEIVED.value,
                    "to_status": Status.DISPATCHED.value,
                    "department": department,
                    "note": "自动派单",
                }
            )
        try:
            with self._writing() as session:
                # Core, not the unit of work: intake is the hot path and writes one row plus events.
                connection = session.connection()
                values = {c.key: getattr(ticket, c.key) for c in _TICKET_COLUMNS}
                ticket.id = connection.execute(_INSERT_TICKET, values).scalar_one()
                common = {"ticket_id": ticket.id, "at": now, "actor": principal.actor}
                connection.execute(_INSERT_EVENT, [{**common, **e} for e in events])
                view = self._view(ticket)
        except IntegrityError:  # the idempotency key was used before: the first ticket stands
            replay = self._replay(principal, idempotency_key or "", fingerprint)
            if replay is None:
                raise
            return replay
        return IntakeResult(ticket=view, created=True, auto_dispatched=auto, duplicates=duplicates)

    def _replay(self, principal: Principal, key: str, fingerprint: str) -> IntakeResult | None:
        with self._session() as session:
            ticket = session.scalar(
                select(Ticket).where(
                    Ticket.idempotency_scope == principal.key_id, Ticket.idempotency_key == key
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
                ticket=self._view(ticket),
                created=False,
                auto_dispatched=ticket.auto_dispatched,
                duplicates=[],
            )

    def _check_draft(self, draft: TicketDraft) -> None:
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

    def _check_category(self, category: str) -> None:
        if category not in self.rules.category_names:
            known = "、".join(self.rules.category_names)
            raise InvalidInput(f"未知的一级分类 {category!r}（可选：{known}）", "category")

    def _check_department(self, department: str | None, field: str = "department") -> str:
        if not department or department not in self.rules.departments:
            raise InvalidInput(f"未知的部门 {department!r}", field)
        if department == DISPATCH_CENTER:
            raise InvalidInput("派单中心不是承办部门", field)
        return department

    def _duplicates(self, session: Session, ticket: Ticket) -> list[DuplicateView]:
        """Open tickets near in place and time whose text is alike, most similar first."""
        rule = self.rules.duplicates
        near = []
        if ticket.grid_id:
            near.append(Ticket.grid_id == ticket.grid_id)
        if ticket.region_code and len(ticket.region_code) >= 9:
            near.append(Ticket.region_code == ticket.region_code)
        if ticket.lat is not None and ticket.lon is not None and rule.radius_m > 0:
            d = rule.radius_m / 111_000
            near.append(Ticket.lat.between(ticket.lat - d, ticket.lat + d))
        if not near:
            return []
        rows = session.execute(
            select(
                Ticket.id,
                Ticket.title,
                func.substr(Ticket.body, 1, dup.TEXT_HEAD).label("body"),
                Ticket.address,
                Ticket.region_code,
                Ticket.grid_id,
                Ticket.lat,
                Ticket.lon,
            )
            .where(
                Ticket.status.in_([s.value for s in OPEN]),
                Ticket.group_id.is_(None),
                Ticket.created_at >= ticket.created_at - timedelta(hours=rule.window_hours),
                or_(*near),
            )
            .order_by(Ticket.created_at.desc())
            .limit(rule.max_candidates)
        ).all()
        rows = [r for r in rows if self._near(ticket, r)]
        scores = dup.similarities(
            dup.ticket_text(ticket.title, ticket.body, ticket.address),
            [dup.ticket_text(r.title, r.body, r.address) for r in rows],
        )
        found = [
            DuplicateView(id=r.id, title=r.title, score=round(s, 3))
            for r, s in zip(rows, scores, strict=True)
            if s >= rule.threshold
        ]
        return sorted(found, key=lambda d: -d.score)

    def _near(self, ticket: Ticket, row: Row) -> bool:
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

    # -- workflow -------------------------------------------------------------------------------

    def act(self, principal: Principal, ticket_id: int, cmd: Command) -> TicketView:
        """Take one workflow action; handling actions on a merge group's primary move the group."""
        rule = TRANSITIONS[cmd.action]
        with self._writing() as session:
            ticket = self._load(session, ticket_id, for_update=True)
            self._authorize(principal, ticket, rule.role)
            if ticket.group_id is not None and rule.shared:
                raise TransitionRefused(
                    f"工单 #{ticket.id} 已并入工单 #{ticket.group_id}，请在主单上办理", "action"
                )
            before = Status(ticket.status)
            after = next_status(before, cmd.action)
            now = self.clock()
            self._check_command(session, ticket, cmd, now)
            members = [ticket]
            if rule.shared:
                members += session.scalars(
                    select(Ticket).where(Ticket.group_id == ticket.id, Ticket.status == before)
                ).all()
            for member in members:
                self._apply(session, member, cmd, after, now)
                note = self._note(cmd)
                if cmd.action == Action.RESOLVE:
                    note = "；".join(filter(None, [note, self._score_reply(member, cmd, now)]))
                self._log(session, member, cmd.action, before, principal, note)
            return self._view(ticket, session)

    def _score_reply(self, ticket: Ticket, cmd: Command, now: datetime) -> str | None:
        """答复质量 by the injected scorer, kept in the 办结 event; a failing scorer is ignored."""
        if self.reply_scorer is None or not cmd.reply:
            return None
        try:
            scored = self.reply_scorer.score(
                ticket.title, ticket.body, cmd.reply, ticket.created_at, now
            )
        except Exception as exc:  # a broken scorer must not stop departments from answering
            log.warning("答复质量评分失败（%r）：本次答复不评分", exc)
            return None
        problems = "、".join(str(p) for p in scored.problems) or "无明显问题"
        return f"答复质量 {float(scored.total):.2f}（{problems}）"

    def _check_command(self, session: Session, ticket: Ticket, cmd: Command, now: datetime) -> None:
        """Refuse a command that lacks what its action needs, before anything is changed."""
        action = cmd.action
        if cmd.category is not None:
            if action not in (Action.DISPATCH, Action.REASSIGN):
                raise InvalidInput("只有派单/改派可以更正分类", "category")
            self._check_category(cmd.category)
        if action == Action.DISPATCH:
            category = cmd.category or ticket.category
            if cmd.department is None and category:
                cmd.department = self.rules.route(category, ticket.region_code)
            self._check_department(cmd.department)
        elif action == Action.REASSIGN:
            self._check_department(cmd.department)
            if cmd.department == ticket.department:
                raise InvalidInput("改派的部门与当前承办部门相同", "department")
        elif action in (Action.RETURN, Action.EXTEND) and not cmd.reason:
            raise InvalidInput(f"{ACTION_LABELS[action]}须说明理由", "reason")
        if action == Action.EXTEND:
            ext = self.rules.extension
            if cmd.days is None or cmd.days > ext.max_working_days:
                raise InvalidInput(f"延期须给出1–{ext.max_working_days}个工作日", "days")
            if ticket.extensions >= ext.max_times:
                raise TransitionRefused(f"已延期 {ticket.extensions} 次，达到上限", "action")
            if ticket.due_at is None or now >= ticket.due_at:
                raise TransitionRefused("延期须在办理时限届满前申请，本单已超期", "action")
        elif action == Action.RESOLVE and not cmd.reply:
            raise InvalidInput("办结须填写答复意见", "reply")
        elif action == Action.FOLLOW_UP:
            if cmd.reached is None:
                raise InvalidInput("回访须说明是否联系上诉求人（reached）", "reached")
            if cmd.reached and None in (cmd.responded, cmd.solved, cmd.satisfaction):
                raise InvalidInput(
                    "有效回访须给出 responded、solved 与 satisfaction", "satisfaction"
                )
        elif action in (Action.REOPEN, Action.ARCHIVE):
            last = self._last_follow_up(session, ticket.id)
            unhappy = last is not None and last.reached and last.satisfaction == "unsatisfied"
            if action == Action.REOPEN and not unhappy:
                raise TransitionRefused("只有回访不满意的工单可以重办", "action")
            if action == Action.ARCHIVE and unhappy and not cmd.reason:
                raise InvalidInput("回访不满意的工单归档须说明理由（否则应重办）", "reason")

    def _apply(
        self, session: Session, ticket: Ticket, cmd: Command, after: Status, now: datetime
    ) -> None:
        action = cmd.action
        if cmd.category:
            ticket.category, ticket.category_source = cmd.category, "person"
        if action == Action.DISPATCH:
            self._dispatch(ticket, cmd.department or "", now)
        elif action == Action.REASSIGN:
            ticket.misrouted = ticket.misrouted or ticket.department is not None
            self._dispatch(ticket, cmd.department or "", now)
        elif action == Action.RETURN:
            ticket.misrouted = True
            ticket.department = None
            ticket.sign_due_at = ticket.due_at = ticket.signed_at = ticket.next_escalation_at = None
        elif action == Action.SIGN:
            ticket.signed_at = now
        elif action == Action.EXTEND:
            assert ticket.due_at is not None and cmd.days is not None
            ticket.due_at, estimated = end_of_working_day_after(ticket.due_at, cmd.days)
            ticket.deadline_estimated |= estimated
            ticket.next_escalation_at = ticket.due_at
            ticket.extensions += 1
        elif action == Action.SUPERVISE:
            ticket.supervised = True
        elif action == Action.REMIND:
            ticket.reminders += 1
        elif action == Action.RESOLVE:
            ticket.reply, ticket.replied_at, ticket.resolved_at = cmd.reply, now, now
            ticket.next_escalation_at = None
        elif action == Action.FOLLOW_UP:
            session.add(
                FollowUp(
                    ticket_id=ticket.id,
                    department=ticket.department,
                    at=now,
                    reached=bool(cmd.reached),
                    responded=cmd.responded if cmd.reached else None,
                    solved=cmd.solved if cmd.reached else None,
                    satisfaction=cmd.satisfaction if cmd.reached else None,
                    comment=cmd.reason,
                )
            )
        elif action == Action.REOPEN:
            ticket.group_id = None
            ticket.resolved_at = ticket.reply = ticket.replied_at = None
            self._dispatch(ticket, ticket.department or "", now)
        elif action == Action.ARCHIVE:
            ticket.archived_at = now
        ticket.status = after
        ticket.updated_at = now

    def _dispatch(self, ticket: Ticket, department: str, now: datetime) -> None:
        priority = self.rules.priorities[ticket.priority]
        ticket.department = department
        ticket.dispatched_at = now
        ticket.signed_at = None
        ticket.sign_due_at, est_sign = deadline(now, priority.sign.time_limit())
        ticket.due_at, est_due = deadline(now, priority.handle.time_limit())
        ticket.deadline_estimated = est_sign or est_due
        ticket.next_escalation_at = ticket.due_at
        ticket.escalation_level = ticket.escalation_region = None
        ticket.status = Status.DISPATCHED

    def merge(self, principal: Principal, ticket_id: int, into: int) -> TicketView:
        """并单: `ticket_id` follows `into` for handling; each keeps its reporter, reply and 回访."""
        with self._writing() as session:
            ticket = self._load(session, ticket_id, for_update=True)
            primary = self._load(session, into, for_update=True)
            self._authorize(principal, ticket, Role.INTAKE)
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
            for name in (
                "department",
                "status",
                "dispatched_at",
                "sign_due_at",
                "signed_at",
                "due_at",
                "deadline_estimated",
                "next_escalation_at",
                "category",
            ):
                setattr(ticket, name, getattr(primary, name))
            ticket.group_id, ticket.updated_at = primary.id, now
            self._log(session, ticket, "merge", before, principal, f"并入工单 #{primary.id}")
            self._log(
                session,
                primary,
                "merge",
                Status(primary.status),
                principal,
                f"并入工单 #{ticket.id}",
            )
            return self._view(ticket, session)

    def escalate_overdue(self) -> list[TicketView]:
        """超期升级: move each overdue ticket one level up its region tree and mark it supervised."""
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
                ticket.next_escalation_at = None if top else deadline(now, every)[0]
                note = f"超期自动升级督办：{level} {region}"
                self._log(session, ticket, Action.SUPERVISE, Status(ticket.status), SYSTEM, note)
                changed.append(self._view(ticket, session))
        return changed

    # -- reading --------------------------------------------------------------------------------

    def get(self, principal: Principal | None, ticket_id: int, history: bool = True) -> TicketView:
        """One ticket; a department sees only its own; `None` is the public (Open311) view."""
        _no_data_officer(principal)
        with self._session() as session:
            ticket = self._load(session, ticket_id)
            if principal is not None and principal.scope == "department":
                self._authorize(principal, ticket, Role.DEPARTMENT)
            return self._view(ticket, session if history else None, principal)

    def by_token(self, token: str) -> TicketView:
        if len(token) != 32 or not all(c in "0123456789abcdef" for c in token):
            raise NotFound(f"没有与令牌 {token!r} 对应的工单", "token")
        with self._session() as session:
            ticket = session.scalar(select(Ticket).where(Ticket.token == token))
            if ticket is None:
                raise NotFound(f"没有与令牌 {token} 对应的工单", "token")
            return self._view(ticket, None, None)

    def search(self, principal: Principal | None, filters: SearchFilters) -> list[TicketView]:
        """Tickets matching all given filters, newest first; departments are held to their own."""
        _no_data_officer(principal)
        query = select(Ticket)
        department = filters.department
        if principal is not None and principal.scope == "department":
            if department not in (None, principal.department):
                raise Forbidden("部门只能查看本部门的工单", "department")
            department = principal.department
        if filters.category is not None:
            self._check_category(filters.category)
            query = query.where(Ticket.category == filters.category)
        if department is not None:
            query = query.where(Ticket.department == department)
        if filters.status is not None:
            query = query.where(Ticket.status == filters.status.value)
        if filters.region is not None:
            self.rules.check_region(filters.region, "region")
            query = query.where(Ticket.region_code.startswith(filters.region.rstrip("0") or "0"))
        if filters.q:
            like = f"%{filters.q}%"
            query = query.where(or_(Ticket.title.like(like), Ticket.body.like(like)))
        if filters.since is not None:
            query = query.where(Ticket.created_at >= _naive_utc(filters.since))
        if filters.until is not None:
            query = query.where(Ticket.created_at < _naive_utc(filters.until))
        if filters.overdue is not None:
            now = self.clock()
            late = Ticket.status.in_([s.value for s in HANDLING]) & (Ticket.due_at < now)
            query = query.where(late if filters.overdue else ~late)
        query = query.order_by(Ticket.id.desc()).limit(filters.limit).offset(filters.offset)
        with self._session() as session:
            return [self._view(t, None, principal) for t in session.scalars(query)]

    def queue(
        self, principal: Principal, department: str, limit: int = 50, offset: int = 0
    ) -> list[TicketView]:
        """A department's open work, soonest deadline first; `center` is the manual-dispatch queue."""
        _no_data_officer(principal)
        if department not in self.rules.departments:
            raise NotFound(f"没有部门 {department!r}", "department")
        if principal.scope == "department" and principal.department != department:
            raise Forbidden("部门只能查看本部门的队列", "department")
        if department == DISPATCH_CENTER:
            query = select(Ticket).where(Ticket.status == Status.RECEIVED.value).order_by(Ticket.id)
        else:
            query = (
                select(Ticket)
                .where(
                    Ticket.department == department,
                    Ticket.status.in_([s.value for s in HANDLING]),
                )
                .order_by(Ticket.due_at, Ticket.id)
            )
        with self._session() as session:
            rows = session.scalars(query.limit(limit).offset(offset))
            return [self._view(t, None, principal) for t in rows]

    def metrics(
        self, since: datetime, until: datetime, department: str | None = None
    ) -> MetricsReport:
        """三率, timeliness and dispatch accuracy for [since, until), per department or for one."""
        since, until = _naive_utc(since), _naive_utc(until)
        if since >= until:
            raise InvalidInput("统计区间的开始须早于结束", "since")
        if department is not None and department not in self.rules.departments:
            raise NotFound(f"没有部门 {department!r}", "department")
        with self._session() as session:
            latest: dict[int, FollowUp] = {}
            query = select(FollowUp).where(FollowUp.at >= since, FollowUp.at < until)
            for f in session.scalars(query.order_by(FollowUp.id)):
                latest[f.ticket_id] = f
            follow_ups = [
                FollowUpRow(f.department, f.reached, f.responded, f.solved, f.satisfaction)
                for f in latest.values()
                if department in (None, f.department)
            ]
            query = select(
                Ticket.department,
                Ticket.sign_due_at,
                Ticket.signed_at,
                Ticket.due_at,
                Ticket.resolved_at,
            ).where(Ticket.dispatched_at >= since, Ticket.dispatched_at < until)
            if department is not None:
                query = query.where(Ticket.department == department)
            assignments = [AssignmentRow(*r) for r in session.execute(query)]
            query = select(Ticket.auto_dispatched, Ticket.misrouted).where(
                Ticket.created_at >= since,
                Ticket.created_at < until,
                or_(Ticket.dispatched_at.is_not(None), Ticket.misrouted),
            )
            dispatches = [DispatchRow(bool(a), bool(m)) for a, m in session.execute(query)]
        return report(
            since,
            until,
            self.rules.departments,
            follow_ups,
            assignments,
            dispatches,
            self.clock(),
            department,
        )

    def training_examples(self) -> tuple[list[str], list[str], list[str]]:
        """Titles, bodies and confirmed categories of handled tickets (answered, followed up, archived)."""
        done = [Status.RESOLVED.value, Status.FOLLOWED_UP.value, Status.ARCHIVED.value]
        with self._session() as session:
            rows = session.execute(
                select(Ticket.title, Ticket.body, Ticket.category).where(
                    Ticket.status.in_(done), Ticket.category.is_not(None)
                )
            ).all()
        return [r.title for r in rows], [r.body for r in rows], [r.category for r in rows]

    # -- helpers --------------------------------------------------------------------------------

    def _load(self, session: Session, ticket_id: int, for_update: bool = False) -> Ticket:
        query = select(Ticket).where(Ticket.id == ticket_id)
        if for_update and self.engine.dialect.name == "postgresql":
            query = query.with_for_update()
        ticket = session.scalar(query)
        if ticket is None:
            raise NotFound(f"没有编号为 {ticket_id} 的工单", "ticket_id")
        return ticket

    def _authorize(self, principal: Principal, ticket: Ticket, role: Role) -> None:
        if role == Role.INTAKE and principal.scope != "intake":
            raise Forbidden("此操作须由热线中心（受理范围的密钥）执行", "api_key")
        if principal.scope == "department" and principal.department != ticket.department:
            raise Forbidden(f"工单 #{ticket.id} 不属于部门 {principal.department}", "api_key")
        if role == Role.DEPARTMENT and principal.scope != "department":
            raise Forbidden("此操作须由承办部门执行", "api_key")

    @staticmethod
    def _last_follow_up(session: Session, ticket_id: int) -> FollowUp | None:
        return session.scalar(
            select(FollowUp)
            .where(FollowUp.ticket_id == ticket_id)
            .order_by(FollowUp.id.desc())
            .limit(1)
        )

    @staticmethod
    def _note(cmd: Command) -> str | None:
        parts = [cmd.reason, cmd.reply]
        if cmd.department and cmd.action in (Action.DISPATCH, Action.REASSIGN):
            parts.append(f"承办部门 {cmd.department}")
        if cmd.days:
            parts.append(f"延期 {cmd.days} 个工作日")
        return "；".join(p for p in parts if p) or None

    @staticmethod
    def _log(
        session: Session,
        ticket: Ticket,
        action: Action | str,
        before: Status | None,
        principal: Principal,
        note: str | None,
    ) -> None:
        session.execute(
            insert(TicketEvent).values(
                ticket_id=ticket.id,
                at=ticket.updated_at,
                action=str(action),
                from_status=before,
                to_status=ticket.status,
                actor=principal.actor,
                department=ticket.department,
                note=note,
            )
        )

    def _view(
        self, ticket: Ticket, session: Session | None = None, principal: Principal | None = SYSTEM
    ) -> TicketView:
        status = Status(ticket.status)
        hide = principal is None or (principal.scope == "department" and ticket.confidential)
        history: list[EventView] = []
        follow_ups: list[FollowUpView] = []
        if session is not None:
            session.flush()
            events = session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id)
                .order_by(TicketEvent.id)
            )
            history = [
                EventView(
                    at=e.at,
                    action=e.action,
                    label=_EVENT_LABELS.get(e.action, e.action),
                    from_status=e.from_status,
                    to_status=e.to_status,
                    actor=e.actor,
                    department=e.department,
                    note=e.note,
                )
                for e in events
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
            department_name=self.rules.departments.get(ticket.department or ""),
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
            group_id=ticket.group_id,
            duplicate_of=ticket.duplicate_of,
            history=history,
            follow_ups=follow_ups,
        )


_EVENT_LABELS = {
    **{a.value: label for a, label in ACTION_LABELS.items()},
    "intake": "受理",
    "merge": "并单",
}


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _key_view(row: ApiKey) -> KeyView:
    return KeyView(
        id=row.id,
        scope=row.scope,
        department=row.department,
        label=row.label,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
