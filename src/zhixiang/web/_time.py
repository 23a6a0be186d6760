"""Times as people here read them: Beijing time, and how long is left before a deadline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "北京时间")


def local(moment: datetime | None) -> datetime | None:
    """A stored (UTC) time in Beijing time, without its zone for display and export."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).replace(tzinfo=None)


@dataclass(frozen=True)
class Countdown:
    """The deadline, the time left (negative when late) and the words for it."""

    deadline: datetime
    seconds: int
    overdue: bool

    @property
    def text(self) -> str:
        left = abs(self.seconds)
        days, rest = divmod(left, 86_400)
        hours, rest = divmod(rest, 3_600)
        span = f"{days}天{hours}小时" if days else f"{hours}小时{rest // 60}分"
        return f"已超期 {span}" if self.overdue else f"剩余 {span}"

    @property
    def iso(self) -> str:
        return self.deadline.replace(tzinfo=BEIJING).isoformat()


def countdown(
    deadline: datetime | None, overdue: bool, now: datetime | None = None
) -> Countdown | None:
    """Time left until `deadline`; `overdue` comes from the ticket store, which owns the rule."""
    if deadline is None:
        return None
    now = now or datetime.now(UTC)
    if deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=UTC)
    seconds = int((deadline - now).total_seconds())
    return Countdown(local(deadline), seconds, overdue or seconds < 0)  # type: ignore[arg-type]
