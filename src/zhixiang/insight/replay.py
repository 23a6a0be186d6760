"""Replay the real message board through the surge test: `python -m zhixiang.insight.replay`.

The real surges are the hot topics of the whole history (groups of at least 5 messages about one
problem at one place) that reached 5 messages in some 7 days. For each, the report gives its first
message, the day it reached 5 in 7 days, and the first alert (of the topic itself, or of an
area × category series whose alert window is at least half that topic's messages). Every other
alert is listed as explained by no real surge: a false alarm by this definition (some are real
rises of several small problems at once, which a person may still want to see). Topics are found
on the whole history, so the topic series know their members in advance; the alarm days use only
the counts up to that day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from zhixiang.insight._messages import Message


def real_surge_report(
    messages: Sequence[Message], categories: Sequence[str]
) -> tuple[list[tuple[Any, Any, Any, Any]], list[Any], list[Any]]:
    """(real surges as (topic, first day, day it reached 5 in 7 days, first alert day or None),
    alerts explained by no real surge, all alerts)."""
    from zhixiang.insight._dashboard import scan
    from zhixiang.insight._topics import TopicSettings, find_topics

    alerts = scan(messages, categories)
    when = {m.id: m.time.date() for m in messages if m.time is not None}
    real = []
    for topic in find_topics(messages, settings=TopicSettings(min_messages=5)):
        days = sorted(when[i] for i in topic.message_ids if i in when)
        fifth = next((d for k, d in enumerate(days[4:], 4) if (d - days[k - 4]).days < 7), None)
        if fifth is not None:
            real.append((topic, days[0], fifth))
    owner = {i: t.key for t, _, _ in real for i in t.message_ids}
    explained: set[int] = set()
    rows = []
    for topic, first, fifth in real:
        raised = None
        for k, alert in enumerate(alerts):
            share = Counter(owner.get(i) for i in alert.message_ids)[topic.key] / max(
                1, len(alert.message_ids)
            )
            own = alert.kind == "topic" and alert.key == topic.key
            if own or (alert.kind == "area_category" and share >= 0.5):
                explained.add(k)
                raised = alert.first_day if raised is None else min(raised, alert.first_day)
        rows.append((topic, first, fifth, raised))
    return rows, [a for k, a in enumerate(alerts) if k not in explained], alerts


def replay(
    data: Annotated[
        Path | None, typer.Option(help="留言 CSV（默认 messages_with_votes.csv）")
    ] = None,
) -> None:
    """Print when each real surge would have been raised, and the other alerts."""
    from zhixiang.classify import load_model
    from zhixiang.config import load_settings
    from zhixiang.insight._messages import read_table

    path = data or load_settings().shared_data_dir / "taidi2020" / "messages_with_votes.csv"
    messages = read_table(
        path, required=["留言主题", "留言详情", "留言时间"], needs_time=True
    ).messages
    model = load_model()
    predicted = model.predict([m.title for m in messages], [m.body for m in messages])
    rows, others, alerts = real_surge_report(messages, [p.category for p in predicted])
    typer.echo(
        f"{path.name}: {len(messages)} 条留言, {len(alerts)} 次预警; "
        f"真实激增 {len(rows)} 个（≥5 条的热点中 7 天达 5 件者）"
    )
    for topic, first, fifth, raised in rows:
        delay = (
            f"首条后 {(raised - first).days} 天，达 5 件后 {(raised - fifth).days} 天"
            if raised
            else "未预警"
        )
        typer.echo(
            f"  {topic.title[:30]}（{topic.place}）首条 {first}，7 天达 5 件 {fifth}，"
            f"预警 {raised or '—'}（{delay}）"
        )
    typer.echo(f"不属于真实激增的预警（误报）: {len(others)} 次")
    for a in others:
        typer.echo(
            f"  {a.first_day} {a.kind} {a.key[:40]} 7 天 {a.count} 件（预期 {a.expected:.1f}）"
        )


if __name__ == "__main__":
    typer.run(replay)
