"""Surge alerts (早发现): an unusual rise of messages in one area × category, or in one hot topic.

Method, for each series (an area × category, or a topic) and each day d:

- count  c = messages in the `window_days` ending on d;
- expected λ = the larger of (a) the trailing baseline — the series' own rate over the
  `baseline_days` before the window, scaled to the window — and (b) the seasonal baseline — the
  same window one year earlier (±`seasonal_spread_days`), when the history reaches back that far —
  and never below `floor` (a quiet series still has some chance of a few messages);
- raise an alert when the Poisson upper tail P(X ≥ c | λ) < `alpha`, c ≥ `min_count` and
  c ≥ `min_ratio` · λ. One surge is one alert: while it lasts (and for `cooldown_days` after its last
  alarming day) further alarming days update the same alert instead of raising a new one.

Each alert says which messages were in the window, so a person can read them before acting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np


@dataclass(frozen=True)
class SurgeSettings:
    """Thresholds of the surge test; every one is a setting a hotline may tune (docs/insight.md)."""

    window_days: int = 7
    baseline_days: int = 56
    seasonal_spread_days: int = 14
    alpha: float = 0.001
    min_count: int = 5
    min_ratio: float = 3.0
    floor: float = 0.5
    cooldown_days: int = 14

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError("alpha 须在 0 与 1 之间")
        if self.window_days < 1 or self.baseline_days < self.window_days:
            raise ValueError("baseline_days 须不小于 window_days ≥ 1")


@dataclass(frozen=True)
class Event:
    """One message in a series: which series (kind and key), on which day, which message."""

    kind: str
    key: str
    day: date
    message_id: str


@dataclass
class Surge:
    """One detected surge: raised on `first_day`, still alarming on `last_day`, at its peak `count`."""

    kind: str
    key: str
    first_day: date
    last_day: date
    count: int
    expected: float
    p_value: float
    message_ids: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.count / self.expected if self.expected else float("inf")


def detect_surges(
    events: Iterable[Event],
    settings: SurgeSettings = SurgeSettings(),
    *,
    since: date | None = None,
    until: date | None = None,
) -> list[Surge]:
    """Surges in every series, replaying day by day from `since` (default: once a baseline exists)."""
    from scipy.stats import poisson

    series: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in events:
        series[(event.kind, event.key)].append(event)
    if not series:
        return []
    all_days = [e.day for evs in series.values() for e in evs]
    start_all, end_all = min(all_days), max(all_days)
    end = until or end_all
    first_check = since or start_all + timedelta(
        days=settings.baseline_days + settings.window_days - 1
    )
    surges: list[Surge] = []
    for (kind, key), evs in series.items():
        offset = {d: i for i, d in enumerate(_days(start_all, end))}
        counts = np.zeros(len(offset), dtype=np.int64)
        by_day: dict[date, list[str]] = defaultdict(list)
        for e in evs:
            if e.day in offset:
                counts[offset[e.day]] += 1
                by_day[e.day].append(e.message_id)
        cumulative = np.concatenate([[0], np.cumsum(counts)])
        current: Surge | None = None
        for day, i in offset.items():
            if day < first_check:
                continue
            c = int(cumulative[i + 1] - cumulative[max(0, i + 1 - settings.window_days)])
            if c < settings.min_count:
                continue
            expected = _expected(cumulative, i, settings)
            p = float(poisson.sf(c - 1, expected))
            if p >= settings.alpha or c < settings.min_ratio * expected:
                continue
            window = [
                m
                for d in _days(day - timedelta(days=settings.window_days - 1), day)
                for m in by_day.get(d, [])
            ]
            if current is not None and (day - current.last_day).days <= settings.cooldown_days:
                current.last_day = day
                if c > current.count:
                    current.count, current.expected, current.p_value = c, expected, p
                current.message_ids = list(dict.fromkeys([*current.message_ids, *window]))
                continue
            current = Surge(kind, key, day, day, c, expected, p, window)
            surges.append(current)
    return sorted(surges, key=lambda s: (s.first_day, s.kind, s.key))


def _expected(cumulative: np.ndarray, i: int, settings: SurgeSettings) -> float:
    """λ for the window ending at day index i: trailing or seasonal baseline, at least the floor."""
    w, b = settings.window_days, settings.baseline_days
    window_start = i + 1 - w
    base_start = max(0, window_start - b)
    span = window_start - base_start
    trailing = (cumulative[window_start] - cumulative[base_start]) / span * w if span > 0 else 0.0
    seasonal = 0.0
    year_ago = i - 365
    spread = settings.seasonal_spread_days
    if year_ago - w - spread >= 0:
        lo, hi = year_ago - spread - w + 1, min(len(cumulative) - 1, year_ago + spread + 1)
        seasonal = (cumulative[hi] - cumulative[lo]) / (hi - lo) * w
    return float(max(trailing, seasonal, settings.floor))


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=k) for k in range((end - start).days + 1)]


def area_of(text: str) -> str:
    """The district or county a message is about (the first named), else the city."""
    from zhixiang.insight._places import areas

    found = areas(text)
    districts = [a for a in found if not a.endswith("市")]
    return districts[0] if districts else (found[0] if found else "全市")


def events_by_area_category(
    ids: Sequence[str], texts: Sequence[str], days: Sequence[date], categories: Sequence[str]
) -> list[Event]:
    """One event per message in its area × category series (key `A3区|城乡建设`)."""
    return [
        Event("area_category", f"{area_of(t)}|{c}", d, i)
        for i, t, d, c in zip(ids, texts, days, categories, strict=True)
    ]
