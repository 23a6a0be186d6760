"""The alert store: surges kept, deduplicated, and turned into proactive tasks (未诉先办).

Alerts live in the ticket database by default (settings' `insight_db`, else `tickets_db`) in
tables of their own with their own Alembic version table. A proactive task is an ordinary ticket
opened through the tickets capability's public face, so it is routed, timed and counted like any
other; the alert remembers its ticket.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from zhixiang.errors import Conflict, NotFound
from zhixiang.insight._models import Alert
from zhixiang.insight._surges import Surge, SurgeSettings

MIGRATIONS = Path(__file__).with_name("migrations")
KIND_LABELS = {"area_category": "区域×类别", "topic": "热点问题"}


@dataclass(frozen=True)
class AlertView:
    id: int
    kind: str
    kind_label: str
    key: str
    area: str | None
    category: str | None
    title: str
    first_day: date
    last_day: date
    count: int
    expected: float
    p_value: float
    message_ids: list[str]
    status: str
    department: str | None
    ticket_id: int | None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _view(row: Alert) -> AlertView:
    return AlertView(
        id=row.id,
        kind=row.kind,
        kind_label=KIND_LABELS.get(row.kind, row.kind),
        key=row.key,
        area=row.area,
        category=row.category,
        title=row.title,
        first_day=row.first_day,
        last_day=row.last_day,
        count=row.count,
        expected=round(row.expected, 3),
        p_value=row.p_value,
        message_ids=[str(m) for m in row.message_ids],
        status=row.status,
        department=row.department,
        ticket_id=row.ticket_id,
    )


def surge_title(surge: Surge) -> str:
    if surge.kind == "area_category":
        area, _, category = surge.key.partition("|")
        return f"{area}{category}类诉求激增：7 天 {surge.count} 件（预期 {surge.expected:.1f}）"
    place, _, title = surge.key.partition("|")
    return f"热点问题升温：{title}（{place}）7 天 {surge.count} 件"


class AlertStore:
    """Alerts in a SQL database (SQLite by default, PostgreSQL in production)."""

    def __init__(self, url: str, settings: SurgeSettings = SurgeSettings()) -> None:
        from sqlalchemy.orm import sessionmaker

        from zhixiang.db import make_engine

        self.engine = make_engine(url)
        self.settings = settings
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> str:
        """Create or upgrade the alert tables (a no-op when current); return the revision."""
        from zhixiang.db import migrate
        from zhixiang.insight._models import VERSION_TABLE

        return migrate(self.engine, MIGRATIONS, VERSION_TABLE)

    def record(self, surges: Iterable[Surge]) -> tuple[list[AlertView], list[AlertView]]:
        """Store surges: (new alerts, updated alerts). A surge continuing an alert of the same
        series within the cooldown updates it rather than raising a second one."""
        created, updated = [], []
        cooldown = timedelta(days=self.settings.cooldown_days)
        with self._session.begin() as session:
            for surge in surges:
                previous = session.scalar(
                    select(Alert)
                    .where(Alert.kind == surge.kind, Alert.key == surge.key)
                    .order_by(Alert.last_day.desc())
                    .limit(1)
                )
                now = _now()
                if previous is not None and surge.first_day - previous.last_day <= cooldown:
                    if surge.last_day > previous.last_day or surge.count > previous.count:
                        previous.last_day = max(previous.last_day, surge.last_day)
                        if surge.count > previous.count:
                            previous.count, previous.expected = surge.count, surge.expected
                            previous.p_value = surge.p_value
                        previous.message_ids = list(
                            dict.fromkeys([*previous.message_ids, *surge.message_ids])
                        )
                        previous.updated_at = now
                        session.flush()
                        updated.append(_view(previous))
                    continue
                area, category = (
                    ([*surge.key.split("|", 1), ""])[:2]
                    if surge.kind == "area_category"
                    else (None, None)
                )
                row = Alert(
                    kind=surge.kind,
                    key=surge.key,
                    area=area,
                    category=category or None,
                    title=surge_title(surge),
                    first_day=surge.first_day,
                    last_day=surge.last_day,
                    count=surge.count,
                    expected=surge.expected,
                    p_value=surge.p_value,
                    message_ids=list(surge.message_ids),
                    status="open",
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                session.flush()
                created.append(_view(row))
        return created, updated

    def list(self, status: str | None = None, limit: int = 100) -> list[AlertView]:
        query = select(Alert).order_by(Alert.first_day.desc(), Alert.id.desc()).limit(limit)
        if status is not None:
            query = query.where(Alert.status == status)
        with self._session() as session:
            return [_view(a) for a in session.scalars(query)]

    def get(self, alert_id: int) -> AlertView:
        with self._session() as session:
            row = session.get(Alert, alert_id)
            if row is None:
                raise NotFound(f"没有编号为 {alert_id} 的预警", "alert_id")
            return _view(row)

    def open_task(
        self, alert_id: int, tickets, principal, category: str | None = None
    ) -> AlertView:  # type: ignore[no-untyped-def]
        """未诉先办: open a ticket for the alert, routed to the responsible department by the
        tickets rules (its category and area), and mark the alert as handed over.

        `tickets` is a `zhixiang.tickets.TicketStore`, `principal` the intake principal it expects.
        """
        from zhixiang.tickets import TicketDraft

        alert = self.get(alert_id)
        if alert.ticket_id is not None:
            raise Conflict(
                f"预警 #{alert_id} 已生成主动任务（工单 #{alert.ticket_id}）", "alert_id"
            )
        body = (
            f"主动发现预警 #{alert.id}（{alert.kind_label}）：{alert.first_day} 至 {alert.last_day}，"
            f"7 天内 {alert.count} 件，按历史预期约 {alert.expected:.1f} 件（P={alert.p_value:.1e}）。"
            f"相关留言编号：{'、'.join(alert.message_ids[:50])}。请承办部门主动核查、提前处置（未诉先办）。"
        )
        draft = TicketDraft(
            title=f"【未诉先办】{alert.title}"[:200],
            body=body[:5000],
            channel="web",
            category=category or alert.category,
        )
        # Outside this store's transaction (the tickets may share the SQLite file); the
        # idempotency key makes a retried or concurrent call return the same ticket.
        result = tickets.intake(principal, draft, idempotency_key=f"insight-alert-{alert.id}")
        with self._session.begin() as session:
            row = session.get(Alert, alert_id)
            assert row is not None
            row.ticket_id = result.ticket.id
            row.department = result.ticket.department
            row.status = "task"
            row.updated_at = _now()
            session.flush()
            return _view(row)

    def close_alert(self, alert_id: int, note: str | None = None) -> AlertView:
        with self._session.begin() as session:
            row = session.get(Alert, alert_id)
            if row is None:
                raise NotFound(f"没有编号为 {alert_id} 的预警", "alert_id")
            row.status, row.note, row.updated_at = "closed", note, _now()
            session.flush()
            return _view(row)


def open_alert_store(url: str | None = None) -> AlertStore:
    """The configured alert store (settings' insight_db, else the ticket database), migrated."""
    from zhixiang.config import load_settings

    settings = load_settings()
    store = AlertStore(url or settings.insight_db or settings.tickets_url)
    store.migrate()
    return store
