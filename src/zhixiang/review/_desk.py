"""智能快审: applications taken, decided from shared data at once where the data are clear, queued for
a reviewer otherwise, and overridden only with a reason; every step is kept in an append-only history.

The facts are read from the data hub under a grant to the policy for the purpose `智能快审` (免证办:
no certificate for what a department already holds); the applicant may declare only facts the data
hub does not hold. Applications live in the operational database (SQLite by default, PostgreSQL).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

from zhixiang.access import Principal, Role
from zhixiang.catalog import load_catalog
from zhixiang.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from zhixiang.identity import IdentifierError, validate_credit_code
from zhixiang.review._decide import APPROVED, PENDING, REFUSED, Decision, decide
from zhixiang.rules import ExpressionError, Policy, Value, literal_for_field

MIGRATIONS = Path(__file__).with_name("migrations")
PURPOSE = "智能快审"
APPLICATION_MODE = "申请审核"  # the delivery mode of a policy one applies for


class AwardLedger(Protocol):
    """Where an approved application becomes a payable line: `zhixiang.grants.GrantLedger`."""

    def record_award(
        self,
        policy: Policy,
        period: str,
        entity_id: str,
        amount: Decimal,
        by: Principal,
        *,
        application_id: str,
        automatic: bool = False,
    ) -> Any: ...


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ApplicationView:
    """An application as the applicant and the reviewer see it."""

    id: int
    policy_id: str
    entity_id: str
    applicant: str
    as_of: date
    status: str
    amount: Decimal | None
    decided_by: str | None
    checks: list[dict]
    pending: list[str]
    declared: dict[str, Any]
    grants: list[int]
    submitted_at: datetime
    decided_at: datetime | None
    reason: str | None
    note: str = ""
    ledger_line: int | None = None  # the grant-ledger line the approved amount was entered as
    ledger_note: str | None = None

    @property
    def failed(self) -> list[str]:
        return [c["id"] for c in self.checks if c["result"] is False and c["clear"]]

    @property
    def seconds_to_decision(self) -> float | None:
        if self.decided_at is None:
            return None
        return (self.decided_at - self.submitted_at).total_seconds()

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "policy_id": self.policy_id,
            "entity_id": self.entity_id,
            "applicant": self.applicant,
            "as_of": self.as_of.isoformat(),
            "status": self.status,
            "amount": None if self.amount is None else str(self.amount),
            "decided_by": self.decided_by,
            "failed": self.failed,
            "checks": self.checks,
            "pending": self.pending,
            "declared": self.declared,
            "grants": self.grants,
            "submitted_at": self.submitted_at.isoformat(),
            "decided_at": None if self.decided_at is None else self.decided_at.isoformat(),
            "seconds_to_decision": self.seconds_to_decision,
            "reason": self.reason,
            "note": self.note,
            "ledger_line": self.ledger_line,
            "ledger_note": self.ledger_note,
        }


@dataclass(frozen=True)
class EventView:
    actor: str
    action: str
    before: str | None
    after: str
    amount: Decimal | None
    reason: str | None
    at: datetime


def _view(row: Any) -> ApplicationView:
    return ApplicationView(
        id=row.id,
        policy_id=row.policy_id,
        entity_id=row.entity_id,
        applicant=row.applicant,
        as_of=row.as_of,
        status=row.status,
        amount=None if row.amount is None else Decimal(row.amount).quantize(Decimal("0.01")),
        decided_by=row.decided_by,
        checks=list(row.checks),
        pending=list(row.pending),
        declared=dict(row.declared),
        grants=list(row.grants),
        submitted_at=row.submitted_at,
        decided_at=row.decided_at,
        reason=row.reason,
        note=row.note or "",
        ledger_line=row.ledger_line,
        ledger_note=row.ledger_note,
    )


class FactSource:
    """The data hub, read for one application: an entity's facts under the policy's grant, the fields
    departments disagree on. One warehouse connection serves many applications (thread-safe)."""

    def __init__(self, warehouse_url: str, entity: str = "enterprise") -> None:
        from zhixiang.datahub import AuditSeal, open_warehouse

        self.entity = entity
        self.catalog = load_catalog(entity)
        self._wh = open_warehouse(warehouse_url)
        if self._wh.dialect == "duckdb":
            # one application reads one row: a single thread answers at once, where a pool of
            # threads on a busy machine waits for its slowest member
            self._wh.execute("SET threads = 1")
        self._lock = threading.Lock()
        # where the audit key lives, read from settings once, not on every audited read
        self._seal = AuditSeal.from_settings()

    def close(self) -> None:
        self._wh.close()

    def exists(self, entity_id: str) -> bool:
        key = self.catalog.key
        with self._lock:
            return bool(
                self._wh.rows(
                    f'SELECT 1 FROM "{self.entity}" WHERE "{key}" = ? LIMIT 1', [entity_id]
                )
            )

    def read(
        self, policy: Policy, entity_id: str, fields: Sequence[str], today: date
    ) -> tuple[dict[str, Value], frozenset[str], list[int]] | None:
        """(facts, withheld fields, grant ids) for the fields the policy reads; None when the
        entity is not in the warehouse."""
        from zhixiang.datahub import AccessDenied, read_entities
        from zhixiang.matching import facts_from_row

        key = self.catalog.key
        with self._lock:
            try:
                shared = read_entities(
                    self._wh,
                    self.entity,
                    reader=policy.id,
                    purpose=PURPOSE,
                    fields=[key, *fields],
                    keys=[entity_id],
                    limit=1,
                    via="review",
                    today=today,
                    seal=self._seal,
                )
            except AccessDenied:  # nothing readable at all: every fact is withheld
                shared = None
        if shared is None:
            return ({}, frozenset(fields), []) if self.exists(entity_id) else None
        rows = shared.table.to_pylist()
        if not rows:
            return None
        facts = facts_from_row(self.catalog, rows[0])
        return (
            {f: facts.get(f) for f in fields if f in shared.fields},
            frozenset(shared.withheld),
            list(shared.grants),
        )

    def contradictions(self, entity_id: str, fields: Sequence[str]) -> dict[str, str]:
        """Field → how the departments' values differ, for this entity (from the last rebuild)."""
        wanted = set(fields)
        with self._lock:
            table = self._conflicts()
        found: dict[str, list[str]] = {}
        for row in table.get(entity_id, []):
            if row["field"] in wanted:
                found.setdefault(row["field"], []).append(
                    f"{row['chosen_source']} {row['chosen_value']} / {row['other_source']} {row['other_value']}"
                )
        return {f: "；".join(v) for f, v in found.items()}

    _cache: dict[str, list[dict]] | None = None
    _cache_at: float = 0.0

    def _conflicts(self) -> dict[str, list[dict]]:
        """The conflicts table by entity key, read at most once a minute (it changes on imports)."""
        from zhixiang.datahub import conflict_rows

        if self._cache is None or time.monotonic() - self._cache_at > 60:
            by_key: dict[str, list[dict]] = {}
            for row in conflict_rows(self._wh, self.entity).to_pylist():
                by_key.setdefault(row["entity_key"], []).append(row)
            self._cache, self._cache_at = by_key, time.monotonic()
        return self._cache


class ReviewDesk:
    """Takes applications and keeps their decisions (the operational database, its own tables)."""

    def __init__(
        self,
        url: str,
        policies: Sequence[Policy],
        facts: FactSource,
        ledger: AwardLedger | None = None,
    ) -> None:
        from sqlalchemy.orm import sessionmaker

        from zhixiang.db import make_engine

        self.engine = make_engine(url, immediate=True)
        self.policies = {p.id: p for p in policies}
        self.facts = facts
        self.ledger = ledger
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    owns_ledger = False  # the desk opened the ledger, and closes it

    def close(self) -> None:
        self.engine.dispose()
        self.facts.close()
        if self.owns_ledger and self.ledger is not None and hasattr(self.ledger, "dispose"):
            self.ledger.dispose()

    def migrate(self) -> str:
        """Create or upgrade the review tables (a no-op when current); return the revision."""
        from zhixiang.db import migrate
        from zhixiang.review._models import VERSION_TABLE

        return migrate(self.engine, MIGRATIONS, VERSION_TABLE)

    # -------------------------------------------------------------- applying

    def _policy(self, policy_id: str, as_of: date) -> Policy:
        policy = self.policies.get(policy_id)
        if policy is None:
            raise NotFound(f"没有编号为 {policy_id} 的政策", field="policy_id")
        if not policy.in_force(as_of):
            raise InvalidInput(
                f"政策 {policy_id}（{policy.title}）在 {as_of} 不在有效期内"
                f"（{policy.valid_from or '…'} 至 {policy.valid_to or '…'}），不受理申请",
                field="policy_id",
            )
        delivery = getattr(policy, "delivery", None)
        if delivery not in (None, APPLICATION_MODE):
            raise InvalidInput(
                f"政策 {policy_id} 的兑现方式为“{delivery}”，无需申请（符合条件的将直接兑现或通知确认）",
                field="policy_id",
            )
        if policy.entity != self.facts.entity:
            raise InvalidInput(
                f"政策 {policy_id} 面向 {policy.entity}，本受理台只受理 {self.facts.entity}",
                field="policy_id",
            )
        return policy

    def _declared(
        self,
        policy: Policy,
        raw: Mapping[str, object],
        held: Mapping[str, Value],
        withheld: frozenset[str],
    ) -> tuple[dict[str, Value], dict[str, Any]]:
        """Typed declared facts (and their JSON form); a fact the data hub holds is refused (免证办)."""
        catalog = self.facts.catalog
        typed: dict[str, Value] = {}
        stored: dict[str, Any] = {}
        for key, value in raw.items():
            f = catalog.get(key)
            if f is None:
                raise InvalidInput(f"申报事项中有未知字段: {key}", field=f"declared.{key}")
            if f.name == catalog.key:
                raise InvalidInput("主体代码不能作为申报事项", field=f"declared.{key}")
            if f.name not in policy.fields_read():
                raise InvalidInput(
                    f"“{f.label}”不是政策 {policy.id} 的审核事项，无需申报", field=f"declared.{key}"
                )
            if held.get(f.name) is not None and f.name not in withheld:
                raise InvalidInput(
                    f"“{f.label}”已由{f.department}共享到数据中台，无需申报（免证办）",
                    field=f"declared.{key}",
                )
            try:
                typed[f.name] = literal_for_field(f, value)
            except ExpressionError as exc:
                raise InvalidInput(
                    f"申报的“{f.label}”无效: {exc.message}", field=f"declared.{key}"
                ) from None
            stored[f.name] = (
                str(value) if not isinstance(value, bool | int | float | str) else value
            )
        return typed, stored

    def apply(
        self,
        principal: Principal,
        policy_id: str,
        entity_id: str,
        declared: Mapping[str, object] | None = None,
        *,
        note: str = "",
        as_of: date | None = None,
    ) -> ApplicationView:
        """Take an application and decide it at once where the data are clear; refused input changes
        nothing."""
        principal.require("review.apply")
        as_of = as_of or date.today()
        try:
            code = validate_credit_code(entity_id)
        except IdentifierError as exc:
            raise InvalidInput(str(exc), field="entity_id") from None
        if (
            principal.has(Role.ENTERPRISE)
            and not principal.has(Role.REVIEWER)
            and principal.subject != code
        ):
            raise Forbidden("企业账号只能为本企业申请", field="entity_id")
        policy = self._policy(policy_id, as_of)
        fields = _fields_read(policy)
        found = self.facts.read(policy, code, fields, as_of)
        if found is None:
            raise NotFound(
                f"数据仓库中没有统一社会信用代码为 {code} 的企业，无法受理", field="entity_id"
            )
        held, withheld, grants = found
        typed, stored = self._declared(policy, declared or {}, held, withheld)
        contradicted = self.facts.contradictions(code, fields)
        submitted = _now()
        decision = decide(policy, held, typed, as_of, contradicted=contradicted, withheld=withheld)
        view = self._store(
            principal, policy, code, as_of, stored, note, decision, grants, submitted
        )
        return self._award(view, principal, automatic=True)

    def askable(
        self, principal: Principal, policy_id: str, entity_id: str, as_of: date | None = None
    ) -> list[str]:
        """The fields of `policy_id` the applicant may declare: those the data hub holds no value
        for (or no grant lets the review read) for this entity; every other fact is looked up."""
        principal.require("review.apply")
        as_of = as_of or date.today()
        try:
            code = validate_credit_code(entity_id)
        except IdentifierError as exc:
            raise InvalidInput(str(exc), field="entity_id") from None
        if principal.has(Role.ENTERPRISE) and principal.subject != code:
            raise Forbidden("企业账号只能为本企业申请", field="entity_id")
        policy = self._policy(policy_id, as_of)
        fields = _fields_read(policy)
        found = self.facts.read(policy, code, fields, as_of)
        if found is None:
            raise NotFound(
                f"数据仓库中没有统一社会信用代码为 {code} 的企业，无法受理", field="entity_id"
            )
        held, withheld, _ = found
        key = self.facts.catalog.key
        return [f for f in fields if f != key and (held.get(f) is None or f in withheld)]

    def applications(self, principal: Principal, limit: int = 100) -> list[ApplicationView]:
        """The applications a portal account may see: its own and its enterprise's, newest first."""
        from sqlalchemy import or_, select

        from zhixiang.review._models import Application

        if not principal.authenticated:
            raise Unauthenticated("查看申请需要登录或 API 密钥", "credentials")
        mine = Application.applicant == principal.actor
        if principal.subject:
            mine = or_(mine, Application.entity_id == principal.subject)
        with self._session() as session:
            rows = session.scalars(
                select(Application).where(mine).order_by(Application.id.desc()).limit(limit)
            ).all()
            return [_view(r) for r in rows]

    def _store(
        self,
        principal: Principal,
        policy: Policy,
        code: str,
        as_of: date,
        declared: dict[str, Any],
        note: str,
        decision: Decision,
        grants: list[int],
        submitted: datetime,
    ) -> ApplicationView:
        from sqlalchemy import select

        from zhixiang.review._models import Application, Event

        with self._session.begin() as session:
            open_one = session.scalar(
                select(Application.id).where(
                    Application.policy_id == policy.id,
                    Application.entity_id == code,
                    Application.status.in_((PENDING, APPROVED)),
                )
            )
            if open_one is not None:
                raise Conflict(
                    f"{code} 已有对政策 {policy.id} 的申请（编号 {open_one}）在审或已批准，不能重复申请",
                    field="policy_id",
                )
            decided = decision.status != PENDING
            now = _now()
            row = Application(
                policy_id=policy.id,
                entity_id=code,
                applicant=principal.actor,
                as_of=as_of,
                declared=declared,
                note=note,
                status=decision.status,
                decided_by="auto" if decided else None,
                amount=decision.amount,
                checks=[c.to_dict() for c in decision.checks],
                pending=list(decision.pending),
                grants=grants,
                submitted_at=submitted,
                decided_at=now if decided else None,
            )
            session.add(row)
            session.flush()
            session.add(
                Event(
                    application_id=row.id,
                    actor=principal.actor,
                    action="submitted",
                    before=None,
                    after=PENDING,
                    at=submitted,
                )
            )
            if decided:
                session.add(
                    Event(
                        application_id=row.id,
                        actor="auto",
                        action="auto_decided",
                        before=PENDING,
                        after=decision.status,
                        amount=decision.amount,
                        at=now,
                    )
                )
            return _view(row)

    # -------------------------------------------------------------- reviewing

    def get(self, principal: Principal, application_id: int) -> ApplicationView:
        from zhixiang.review._models import Application

        if not principal.authenticated:
            raise Unauthenticated("查看申请需要登录或 API 密钥", "credentials")
        with self._session() as session:
            row = session.get(Application, application_id)
            if row is None:
                raise NotFound(f"没有编号为 {application_id} 的申请", field="application_id")
            view = _view(row)
        if (
            not principal.can("review.decide")
            and view.applicant != principal.actor
            and not (principal.subject and principal.subject == view.entity_id)
        ):
            raise Forbidden("只能查看本人（本企业）的申请", field="application_id")
        return view

    def queue(
        self, principal: Principal, status: str = PENDING, limit: int = 100
    ) -> list[ApplicationView]:
        """Applications waiting for a reviewer (or of another status), oldest first."""
        from sqlalchemy import select

        from zhixiang.review._models import Application

        principal.require("review.decide")
        if status not in (PENDING, APPROVED, REFUSED):
            raise InvalidInput(
                f"未知状态 {status}（可选: {PENDING}、{APPROVED}、{REFUSED}）", field="status"
            )
        with self._session() as session:
            rows = session.scalars(
                select(Application)
                .where(Application.status == status)
                .order_by(Application.id)
                .limit(limit)
            ).all()
            return [_view(r) for r in rows]

    def history(self, principal: Principal, application_id: int) -> list[EventView]:
        from sqlalchemy import select

        from zhixiang.review._models import Event

        self.get(principal, application_id)
        with self._session() as session:
            rows = session.scalars(
                select(Event).where(Event.application_id == application_id).order_by(Event.id)
            ).all()
            return [
                EventView(r.actor, r.action, r.before, r.after, r.amount, r.reason, r.at)
                for r in rows
            ]

    def decide(
        self,
        principal: Principal,
        application_id: int,
        status: str,
        reason: str,
        *,
        amount: Decimal | str | None = None,
    ) -> ApplicationView:
        """A reviewer decides a queued application, or overrides an automatic decision, with a reason."""
        from zhixiang.review._models import Application, Event

        principal.require("review.decide")
        if status not in (APPROVED, REFUSED):
            raise InvalidInput(
                f"审核结论应为 {APPROVED} 或 {REFUSED}，实为 {status}", field="status"
            )
        if not reason or not reason.strip():
            raise InvalidInput("人工审核须写明理由", field="reason")
        paid: Decimal | None = None
        if amount is not None:
            try:
                paid = Decimal(str(amount)).quantize(Decimal("0.01"))
            except InvalidOperation:
                raise InvalidInput(f"金额应为数字（元），实为 {amount}", field="amount") from None
            if paid < 0:
                raise InvalidInput("金额不能为负", field="amount")
        with self._session.begin() as session:
            row = session.get(Application, application_id, with_for_update=True)
            if row is None:
                raise NotFound(f"没有编号为 {application_id} 的申请", field="application_id")
            if row.applicant == principal.actor:
                raise Forbidden("不能审核本人提交的申请", field="application_id")
            if row.status == status and row.decided_by not in (None, "auto"):
                raise Conflict(
                    f"申请 {application_id} 已由 {row.decided_by} 作出同样的结论", field="status"
                )
            if status == APPROVED:
                paid = (
                    paid
                    if paid is not None
                    else (None if row.amount is None else Decimal(row.amount))
                )
                if paid is None:
                    raise InvalidInput(
                        "批准须给出金额（按政策无法自动计算时由审核员核定）", field="amount"
                    )
            else:
                paid = None
            before = row.status
            now = _now()
            action = "override" if row.decided_by == "auto" else "reviewed"
            row.status, row.amount, row.decided_by = status, paid, principal.actor
            row.decided_at, row.reason = now, reason.strip()
            session.add(
                Event(
                    application_id=row.id,
                    actor=principal.actor,
                    action=action,
                    before=before,
                    after=status,
                    amount=paid,
                    reason=reason.strip(),
                    at=now,
                )
            )
            session.flush()
            view = _view(row)
        return self._award(view, principal, automatic=False)

    def _award(self, view: ApplicationView, by: Principal, *, automatic: bool) -> ApplicationView:
        """An approved amount becomes a payable line of the grant ledger (idempotent there, keyed
        by policy, year and entity); what the ledger says is kept on the application."""
        from zhixiang.errors import ZhixiangError
        from zhixiang.review._models import Application, Event

        if self.ledger is None or view.status != APPROVED or view.amount is None:
            return view
        try:
            line = self.ledger.record_award(
                self.policies[view.policy_id],
                str(view.as_of.year),
                view.entity_id,
                view.amount,
                by,
                application_id=str(view.id),
                automatic=automatic,
            )
            line_id, note = int(line.id), f"已记入兑现台账第 {line.id} 行（{view.as_of.year} 年度）"
        except ZhixiangError as exc:  # already granted, exclusive, over a cap or budget
            line_id, note = None, f"未记入兑现台账：{exc.message}"
        with self._session.begin() as session:
            row = session.get(Application, view.id)
            assert row is not None
            row.ledger_line, row.ledger_note = line_id, note
            session.add(
                Event(
                    application_id=view.id,
                    actor="auto" if automatic else by.actor,
                    action="ledger" if line_id else "ledger_refused",
                    before=view.status,
                    after=view.status,
                    amount=view.amount,
                    reason=note,
                    at=_now(),
                )
            )
            session.flush()
            return _view(row)

    def stats(self) -> dict[str, Any]:
        """Share decided automatically and the time from application to decision (seconds)."""
        from sqlalchemy import select

        from zhixiang.review._models import Application

        with self._session() as session:
            rows = session.execute(
                select(
                    Application.status,
                    Application.decided_by,
                    Application.submitted_at,
                    Application.decided_at,
                )
            ).all()
        total = len(rows)
        auto = sum(1 for r in rows if r.decided_by == "auto")
        waits = sorted(
            (r.decided_at - r.submitted_at).total_seconds() for r in rows if r.decided_at
        )
        return {
            "applications": total,
            "decided_automatically": auto,
            "automatic_share": auto / total if total else None,
            "pending": sum(1 for r in rows if r.status == PENDING),
            "median_seconds_to_decision": waits[len(waits) // 2] if waits else None,
        }


def _fields_read(policy: Policy) -> list[str]:
    """Every field the policy's conditions and benefit read (what the review must look up)."""
    return list(policy.fields_read())


def open_review_desk(
    policies: Sequence[Policy], settings: Any = None, ledger: AwardLedger | None = None
) -> ReviewDesk:
    """The configured desk (`Settings.review_db`, the warehouse), its tables migrated; approved
    amounts are entered in `ledger`, by default the configured grant ledger (`Settings.grants_db`)."""
    from zhixiang.config import load_settings
    from zhixiang.grants import open_ledger

    settings = settings or load_settings()
    owned = ledger is None
    ledger = ledger or open_ledger(settings.grants_db)
    desk = ReviewDesk(settings.review_db, policies, FactSource(settings.warehouse_url), ledger)
    desk.owns_ledger = owned
    desk.migrate()
    return desk
