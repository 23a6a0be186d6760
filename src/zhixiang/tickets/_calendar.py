"""Chinese working days (法定节假日 and 调休 make-up days), year by year, as precomputed tables.

The State Council publishes each year's schedule in November or December of the year before.
`chinese-calendar` carries the years it has been released with; an administrator adds later years
(or corrects one) in a small YAML file (`Settings.holidays`). A year known to neither is counted
Monday–Friday and every answer for it says `estimated`, so a deadline there is flagged, never
silently wrong.

Each year is turned once into a sorted list of its working days; a deadline is then one bisection,
not a library call per day.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import yaml

from zhixiang.errors import InvalidInput

_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\s*(?:\.\.|至|~)\s*(\d{4}-\d{2}-\d{2}))?$")


@dataclass(frozen=True)
class YearSchedule:
    """One year's published schedule: days off on weekdays (holidays) and weekend days worked (调休)."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str = ""

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


@dataclass
class _Year:
    ordinals: list[int]  # the year's working days as date ordinals, ascending
    estimated: bool


def _library_years() -> dict[int, YearSchedule]:
    """Every year `chinese-calendar` knows, as schedules (read once, at start-up)."""
    import chinese_calendar

    years: dict[int, YearSchedule] = {}
    holidays: dict[int, set[date]] = {}
    workdays: dict[int, set[date]] = {}
    for day in chinese_calendar.constants.holidays:
        if day.weekday() < 5:
            holidays.setdefault(day.year, set()).add(day)
    for day in chinese_calendar.constants.workdays:
        if day.weekday() >= 5:
            workdays.setdefault(day.year, set()).add(day)
    for year in sorted(set(holidays) | set(workdays)):
        years[year] = YearSchedule(
            year,
            frozenset(holidays.get(year, ())),
            frozenset(workdays.get(year, ())),
            f"chinese-calendar {getattr(chinese_calendar, '__version__', '')}".strip(),
        )
    return years


def _days(entries: object, year: int, where: str) -> set[date]:
    if entries is None:
        return set()
    if not isinstance(entries, list):
        raise InvalidInput(f"{where} 应为日期列表，如 [2027-01-01, 2027-02-06..2027-02-12]", where)
    days: set[date] = set()
    for i, entry in enumerate(entries):
        text = entry.isoformat() if isinstance(entry, date) else str(entry).strip()
        match = _RANGE.match(text)
        try:
            first = date.fromisoformat(match.group(1)) if match else None
            last = date.fromisoformat(match.group(2)) if match and match.group(2) else first
        except ValueError:
            first = last = None
        if first is None or last is None or last < first:
            raise InvalidInput(
                f"{where}[{i}] 不是日期或日期区间（YYYY-MM-DD 或 YYYY-MM-DD..YYYY-MM-DD）: {text!r}",
                where,
            )
        if first.year != year or last.year != year:
            raise InvalidInput(f"{where}[{i}] {text} 不在 {year} 年内", where)
        day = first
        while day <= last:
            days.add(day)
            day += timedelta(days=1)
    return days


def parse_holidays(text: str, source: str = "holidays.yaml") -> dict[int, YearSchedule]:
    """Schedules from the administrator's YAML; every problem is refused naming the year and entry.

    ```yaml
    2027:
      source: 国务院办公厅关于2027年部分节假日安排的通知
      holidays: [2027-01-01, 2027-02-06..2027-02-12]   # weekdays off
      workdays: [2027-02-14]                            # weekend days worked (调休)
    ```
    """
    try:  # every scalar as text: dates are checked here, with the entry named, not by YAML
        data = yaml.load(text, Loader=yaml.BaseLoader) or {}
    except yaml.YAMLError as exc:
        raise InvalidInput(f"节假日文件 {source} 不是合法的 YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"节假日文件 {source} 应以年份为键，如 2027: {{holidays: [...]}}")
    years: dict[int, YearSchedule] = {}
    for key, entry in data.items():
        try:
            year = int(key)
        except (TypeError, ValueError):
            raise InvalidInput(f"节假日文件 {source}: {key!r} 不是年份", "year") from None
        if not 1900 < year < 2200 or not isinstance(entry, dict):
            raise InvalidInput(f"节假日文件 {source}: {key} 应为年份及其 holidays/workdays", "year")
        unknown = set(entry) - {"source", "holidays", "workdays"}
        if unknown:
            raise InvalidInput(
                f"节假日文件 {source}: {year} 有未知字段 {'、'.join(map(str, unknown))}", "year"
            )
        holidays = _days(entry.get("holidays"), year, f"{year}.holidays")
        workdays = _days(entry.get("workdays"), year, f"{year}.workdays")
        both = holidays & workdays
        if both:
            first = min(both).isoformat()
            raise InvalidInput(f"节假日文件 {source}: {first} 同时是假日和调休工作日", str(year))
        years[year] = YearSchedule(
            year, frozenset(holidays), frozenset(workdays), str(entry.get("source") or source)
        )
    return years


@dataclass
class WorkCalendar:
    """Working days by year: the library's years, overridden or extended by `schedules`."""

    schedules: dict[int, YearSchedule] = field(default_factory=dict)
    _tables: dict[int, _Year] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def default(cls, holidays_file: Path | None = None, library: bool = True) -> WorkCalendar:
        """The library's years plus the administrator's file, which wins for a year both know."""
        schedules = _library_years() if library else {}
        if holidays_file is not None:
            try:
                text = holidays_file.read_text("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"无法读取节假日文件 {holidays_file}: {exc}") from None
            schedules.update(parse_holidays(text, str(holidays_file)))
        return cls(schedules)

    @classmethod
    def of(cls, schedules: Iterable[YearSchedule]) -> WorkCalendar:
        return cls({s.year: s for s in schedules})

    def known_years(self) -> list[int]:
        return sorted(self.schedules)

    def knows(self, year: int) -> bool:
        return year in self.schedules

    def _year(self, year: int) -> _Year:
        table = self._tables.get(year)
        if table is None:
            schedule = self.schedules.get(year)
            first, last = date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()
            if schedule is None:
                ordinals = [o for o in range(first, last + 1) if date.fromordinal(o).weekday() < 5]
            else:
                ordinals = [
                    o for o in range(first, last + 1) if schedule.is_workday(date.fromordinal(o))
                ]
            table = self._tables[year] = _Year(ordinals, schedule is None)
        return table

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """(is `day` a working day, is that an estimate because its year is not known)."""
        table = self._year(day.year)
        at = bisect.bisect_left(table.ordinals, day.toordinal())
        found = at < len(table.ordinals) and table.ordinals[at] == day.toordinal()
        return found, table.estimated

    def add_working_days(self, day: date, count: int) -> tuple[date, bool]:
        """The `count`-th working day after `day` (the day itself not counted), and whether any year
        crossed on the way is unknown (so the answer is Monday–Friday arithmetic, an estimate)."""
        if count <= 0:
            return day, False
        estimated = False
        ordinal, year = day.toordinal(), day.year
        while True:
            table = self._year(year)
            at = bisect.bisect_right(table.ordinals, ordinal)
            left = len(table.ordinals) - at
            if left > 0:
                estimated |= table.estimated
            if count <= left:
                return date.fromordinal(table.ordinals[at + count - 1]), estimated
            count -= left
            year += 1
            ordinal = date(year, 1, 1).toordinal() - 1
