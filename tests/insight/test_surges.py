"""Surge alerts: raised on the day a rise stands out from its own history, once per surge, stored,
deduplicated, and handed to the responsible department as a proactive ticket."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from zhixiang.access import SYSTEM
from zhixiang.insight import AlertStore, Event, Surge, SurgeSettings, detect_surges
from zhixiang.tickets import TicketStore

START = date(2019, 1, 1)


def series(daily: list[int], key: str = "A3区|城乡建设") -> list[Event]:
    return [
        Event("area_category", key, START + timedelta(days=d), f"{d}-{k}")
        for d, n in enumerate(daily)
        for k in range(n)
    ]


def background(days: int, rate: float = 1.0, seed: int = 0) -> list[int]:
    return np.random.default_rng(seed).poisson(rate, days).tolist()


def test_a_burst_is_raised_on_the_day_it_stands_out_and_only_once() -> None:
    daily = [*background(120), 1, 6, 8, 7, 9, 5, *background(60, seed=1)]
    surges = detect_surges(series(daily))
    assert len(surges) == 1
    [surge] = surges
    burst_start = START + timedelta(days=120)
    assert burst_start <= surge.first_day <= burst_start + timedelta(days=5)  # a 7-day window
    assert surge.count >= 15 and surge.expected < 10 and surge.p_value < 1e-3
    assert all(m.split("-")[0].isdigit() for m in surge.message_ids)


def test_a_steady_series_raises_nothing() -> None:
    assert detect_surges(series(background(400, rate=3.0, seed=2))) == []


def test_the_seasonal_baseline_expects_last_years_rise() -> None:
    quiet = background(365, rate=0.3, seed=3)
    rise = [4] * 10
    first_year = quiet[:200] + rise + quiet[210:]
    second_year = quiet[:200] + rise + background(30, rate=0.3, seed=4)
    alone = detect_surges(series(quiet[:200] + rise + quiet[210:240]))
    repeated = detect_surges(series(first_year + second_year))
    assert any(s.first_day.year == 2019 for s in alone)
    assert not [s for s in repeated if s.first_day.year == 2020]


def test_thresholds_are_settings() -> None:
    daily = [*background(120), 4, 4, 4, *background(10, seed=5)]
    assert not detect_surges(series(daily), SurgeSettings(min_count=20))
    assert detect_surges(series(daily), SurgeSettings(min_ratio=1.5, alpha=0.01))
    with pytest.raises(ValueError, match="alpha"):
        SurgeSettings(alpha=2.0)


def surge(first: date, last: date, count: int = 9) -> Surge:
    return Surge("area_category", "A3区|城乡建设", first, last, count, 2.0, 1e-4, [str(count)])


def test_alerts_are_stored_deduplicated_and_open_a_proactive_task(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    tickets = TicketStore(url)
    tickets.migrate()
    alerts = AlertStore(url)
    assert alerts.migrate() == alerts.migrate() == "insight_0001"
    assert tickets.migrate()  # the ticket schema history is untouched by the alert tables

    [first], _ = alerts.record([surge(date(2019, 3, 1), date(2019, 3, 2))])
    created, updated = alerts.record([surge(date(2019, 3, 6), date(2019, 3, 8), count=12)])
    assert created == [] and updated[0].id == first.id and updated[0].count == 12
    later, _ = alerts.record([surge(date(2019, 6, 1), date(2019, 6, 1))])
    assert later and later[0].id != first.id

    intake = SYSTEM
    task = alerts.open_task(first.id, tickets, intake)
    ticket = tickets.get(SYSTEM, task.ticket_id)
    assert task.status == "task" and task.department == "city-housing"
    assert (
        ticket.title.startswith("【未诉先办】A3区城乡建设") and ticket.department == "city-housing"
    )
    from zhixiang.errors import Conflict

    with pytest.raises(Conflict, match="已生成主动任务"):
        alerts.open_task(first.id, tickets, intake)
    assert [a.id for a in alerts.list(status="task")] == [first.id]


@pytest.mark.slow
def test_replaying_the_real_board_raises_each_real_surge_when_it_reaches_five_a_week(
    votes_file: Path,
) -> None:
    from zhixiang.classify import load_model
    from zhixiang.insight import read_table
    from zhixiang.insight.replay import real_surge_report

    messages = read_table(votes_file, required=["留言主题", "留言详情"], needs_time=True).messages
    model = load_model()
    categories = [
        p.category for p in model.predict([m.title for m in messages], [m.body for m in messages])
    ]
    rows, others, _ = real_surge_report(messages, categories)
    places = " ".join(t.place for t, *_ in rows)
    assert "丽发新城" in places and "伊景园滨河苑" in places
    for _, first, fifth, raised in rows:
        assert raised is not None and first <= raised <= fifth + timedelta(days=3)
    assert len(others) <= 20  # 13 in the reported run, over ten months and ~120 series
