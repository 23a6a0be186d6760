"""Time limits in clock hours or in Chinese working days (法定节假日 and 调休 make-up days included).

`chinese-calendar` knows the State Council's schedule year by year; for a year it does not know yet
we count Monday–Friday and say so (`estimated`), rather than refuse to set a deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

import chinese_calendar

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


def is_workday(day: date) -> tuple[bool, bool]:
    """(is it a working day, is that an estimate because the year's schedule is not published)."""
    try:
        return chinese_calendar.is_workday(day), False
    except NotImplementedError:
        return day.weekday() < 5, True


def add_working_days(day: date, count: int) -> tuple[date, bool]:
    """The `count`-th working day after `day` (the day itself is not counted)."""
    estimated = False
    while count > 0:
        day += timedelta(days=1)
        work, guess = is_workday(day)
        estimated |= guess
        count -= work
    return day, estimated


def to_local(moment: datetime) -> datetime:
    """A stored naive-UTC moment as Beijing time."""
    return moment.replace(tzinfo=UTC).astimezone(CST)


def end_of_working_day_after(start: datetime, count: int) -> tuple[datetime, bool]:
    """End (23:59:59 Beijing time) of the `count`-th working day after `start`, as naive UTC."""
    day, estimated = add_working_days(to_local(start).date(), count)
    end = datetime.combine(day, time(23, 59, 59), tzinfo=CST)
    return end.astimezone(UTC).replace(tzinfo=None), estimated


def deadline(start: datetime, limit: TimeLimit) -> tuple[datetime, bool]:
    """When a task started at `start` (naive UTC) is due under `limit`, and whether that is an estimate."""
    if limit.hours is not None:
        return start + timedelta(hours=limit.hours), False
    assert limit.working_days is not None
    return end_of_working_day_after(start, limit.working_days)
