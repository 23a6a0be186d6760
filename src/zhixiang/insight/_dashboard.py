"""Dashboard data for the web: hot topics with their heat week by week, alerts, reply quality.

Plain functions returning plain values (dataclasses and dicts), so the API and the web render the
same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from zhixiang.insight._messages import Message
from zhixiang.insight._surges import (
    Event,
    SurgeSettings,
    area_of,
    detect_surges,
    events_by_area_category,
)
from zhixiang.insight._topics import Topic, TopicSettings, find_topics, heat_index


@dataclass(frozen=True)
class TopicTrend:
    """A topic and its heat at the end of each week (what it was then, not what it is now)."""

    topic: Topic
    weeks: list[str]
    heat: list[float]
    messages: list[int]


def topic_trends(
    messages: Sequence[Message],
    *,
    top: int = 10,
    weeks: int = 12,
    reference: datetime | None = None,
    settings: TopicSettings = TopicSettings(),
) -> list[TopicTrend]:
    """The `top` hot topics with their heat index recomputed at the end of each of the last `weeks`."""
    topics = find_topics(messages, top=top, reference=reference, settings=settings)
    times = [m.time for m in messages if m.time is not None]
    if not times:
        return [TopicTrend(t, [], [], []) for t in topics]
    end = reference or max(times)
    by_id = {m.id: m for m in messages}
    trends = []
    for topic in topics:
        members = [by_id[i] for i in topic.message_ids if i in by_id]
        labels, heats, counts = [], [], []
        for k in range(weeks - 1, -1, -1):
            at = end - timedelta(weeks=k)
            seen = [m for m in members if m.time is not None and m.time <= at]
            iso = at.isocalendar()
            labels.append(f"{iso.year}-W{iso.week:02d}")
            counts.append(len(seen))
            heats.append(round(heat_index(seen, at, settings)[0], 2) if seen else 0.0)
        trends.append(TopicTrend(topic, labels, heats, counts))
    return trends


def surge_events(
    messages: Sequence[Message], categories: Sequence[str], topics: Sequence[Topic] = ()
) -> list[Event]:
    """Events of the area × category series and of each topic's series, for `detect_surges`."""
    timed = [
        (m, m.time.date(), c)
        for m, c in zip(messages, categories, strict=True)
        if m.time is not None
    ]
    events = events_by_area_category(
        [m.id for m, _, _ in timed],
        [m.text for m, _, _ in timed],
        [d for _, d, _ in timed],
        [c for _, _, c in timed],
    )
    when = {m.id: d for m, d, _ in timed}
    for topic in topics:
        events += [Event("topic", topic.key, when[i], i) for i in topic.message_ids if i in when]
    return events


def scan(
    messages: Sequence[Message],
    categories: Sequence[str],
    *,
    area_settings: SurgeSettings = SurgeSettings(),
    topic_settings: SurgeSettings = SurgeSettings(min_count=4),
    since=None,  # type: ignore[no-untyped-def]
):  # type: ignore[no-untyped-def]
    """Surges of both kinds over a body of messages (categories from the classifier or the store)."""
    topics = find_topics(messages, settings=TopicSettings(min_messages=topic_settings.min_count))
    events = surge_events(messages, categories, topics)
    if since is None and len(events) >= 100:
        # history starts where the data become regular: a few stragglers years earlier (the real
        # board has 4 messages from 2017–2018 before 4,322 from 2019) are not a baseline
        days = sorted(e.day for e in events)
        start = days[len(days) // 200]
        since = start + timedelta(days=area_settings.baseline_days + area_settings.window_days - 1)
    area = detect_surges(
        [e for e in events if e.kind == "area_category"], area_settings, since=since
    )
    topic = detect_surges([e for e in events if e.kind == "topic"], topic_settings, since=since)
    return sorted(area + topic, key=lambda s: (s.first_day, s.kind, s.key))


__all__ = ["TopicTrend", "area_of", "scan", "surge_events", "topic_trends"]
