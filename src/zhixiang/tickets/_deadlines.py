"""Time limits in clock hours or in Chinese working days, over a `WorkCalendar`.

A deadline in a year the calendar does not know is still set (Monday–Friday) but flagged
`estimated`, so the ticket is listed for a person to check once the year's schedule is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache

from zhixiang.tickets._calendar import WorkCalendar

#: China Standard Time; working days are calendar days in Beijing time (no daylight saving).
CST = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class TimeLimit:
    """Either clock hours (emergencies, utilities) or working days (general, complex)."""

    hours: float | None = None
    working_days: int | None = None

    def __post_init__(self) -> None:
        if (self.hours is None) == (self.working_days is None):
            raise ValueError("时限须且仅须给出 hours 或 working_days 之一")

    @property
    def label(self) -> str:
        return f"{self.hours:g}小时" if self.hours is not None else f"{self.working_days}个工作日"


@cache
def default_calendar() -> WorkCalendar:
    """The calendar in effect: chinese-calendar's years plus `Settings.holidays`, read once."""
    from zhixiang.config import load_settings

    return WorkCalendar.default(load_settings().holidays)


def add_working_days(
    day: date, count: int, calendar: WorkCalendar | None = None
) -> tuple[date, bool]:
    """The `count`-th working day after `day` (the day itself is not counted), and `estimated`."""
    return (calendar or default_calendar()).add_working_days(day, count)


def to_local(moment: datetime) -> datetime:
    """A stored naive-UTC moment as Beijing time."""
    return moment.replace(tzinfo=UTC).astimezone(CST)


def end_of_working_day_after(
    start: datetime, count: int, calendar: WorkCalendar | None = None
) -> tuple[datetime, bool]:
    """End (23:59:59 Beijing time) of the `count`-th working day after `start`, as naive UTC."""
    day, estimated = add_working_days(to_local(start).date(), count, calendar)
    end = datetime.combine(day, time(23, 59, 59), tzinfo=CST)
    return end.astimezone(UTC).replace(tzinfo=None), estimated


def deadline(
    start: datetime, limit: TimeLimit, calendar: WorkCalendar | None = None
) -> tuple[datetime, bool]:
    """When a task started at `start` (naive UTC) is due under `limit`, and whether that is an estimate."""
    if limit.hours is not None:
        return start + timedelta(hours=limit.hours), False
    assert limit.working_days is not None
    return end_of_working_day_after(start, limit.working_days, calendar)
