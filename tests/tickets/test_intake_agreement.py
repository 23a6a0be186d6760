"""The faster intake gives the previous implementation's answers on real messages: duplicate scores
and proposals, the candidates two workers see, deadlines, and rows stored as Core stored them."""

from __future__ import annotations

import math
import operator
import random
import re
import sqlite3
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from sqlalchemy import or_, select
from tk_helpers import AGENT, Clock

from zhixiang.identity import region_code_table
from zhixiang.tickets import TicketDraft, TicketStore, WorkCalendar
from zhixiang.tickets._duplicates import Vector, _scores, ticket_text
from zhixiang.tickets._tables import Ticket
from zhixiang.tickets._workflow import OPEN

_SPACES = re.compile(r"\s\s+")


class _PreviousVector:
    """The previous `Vector`: a dict of 1 + log count per gram, built on every call."""

    def __init__(self, text: str) -> None:
        folded = _SPACES.sub(" ", text.lower())
        counts = Counter(folded)
        counts.update(map(operator.add, folded, folded[1:]))
        self.tf = {g: 1.0 + math.log(c) for g, c in counts.items()}
        self.squares = sum(v * v for v in self.tf.values())


def _previous_scores(query: _PreviousVector, docs: list[_PreviousVector]) -> list[float]:
    """The previous scoring, verbatim but for names."""
    frequency: Counter[str] = Counter(query.tf.keys())
    for doc in docs:
        frequency.update(doc.tf.keys())
    n = 2 + len(docs)
    lone = math.log(n / 2) + 1.0
    idf2 = {g: (math.log(n / (1 + k)) + 1.0) ** 2 for g, k in frequency.items() if k > 1}
    lone2 = lone * lone
    shared = idf2.keys()

    def norm(v: _PreviousVector) -> float:
        extra = sum(v.tf[g] ** 2 * (idf2[g] - lone2) for g in v.tf.keys() & shared)
        return math.sqrt(lone2 * v.squares + extra)

    query_norm = norm(query)
    scores = []
    for doc in docs:
        doc_norm = norm(doc)
        if not (doc_norm and query_norm):
            scores.append(0.0)
            continue
        dot = sum(query.tf[g] * doc.tf[g] * idf2[g] for g in query.tf.keys() & doc.tf.keys())
        scores.append(dot / (query_norm * doc_norm))
    return scores


def test_duplicate_scores_equal_the_previous_ones_on_real_messages(
    messages: list[tuple[str, str]],
) -> None:
    rng = random.Random(13)
    texts = [ticket_text(t, b, None) for t, b in messages]
    compared = proposed = 0
    for _ in range(300):
        query, *docs = rng.sample(texts, rng.randint(2, 51))
        if rng.random() < 0.3:  # a re-post: the same complaint, slightly changed
            docs[0] = query[: len(query) // 2] + "，再次反映" + query[len(query) // 2 :]
        ours = _scores(Vector(query), [Vector(d) for d in docs])
        theirs = _previous_scores(_PreviousVector(query), [_PreviousVector(d) for d in docs])
        assert ours == pytest.approx(theirs, abs=1e-12)
        assert [s >= 0.3 for s in ours] == [s >= 0.3 for s in theirs]
        compared += len(docs)
        proposed += sum(s >= 0.3 for s in ours)
    assert compared > 5_000 and proposed > 50  # both sides of the threshold were exercised


def _streets() -> list[str]:
    table = region_code_table()
    return [
        code
        for code, parent in zip(table["code"].to_pylist(), table["parent"].to_pylist(), strict=True)
        if parent == "350203" and len(code) == 9
    ][:3]


def test_two_workers_propose_the_duplicates_the_previous_query_and_scoring_find(
    tickets_url: str, messages: list[tuple[str, str]]
) -> None:
    """Two stores over one database (two server workers): each proposes, for every real message,
    exactly the open tickets near in place and time that the previous implementation proposed."""
    clock = Clock(datetime(2026, 11, 2, 1, 0))
    calendar = WorkCalendar.default()
    workers = [TicketStore(tickets_url, clock=clock, calendar=calendar) for _ in range(2)]
    workers[0].migrate()
    rng = random.Random(7)
    streets = _streets()
    rule = workers[0].rules.duplicates
    proposals = 0
    try:
        for i in range(160):
            title, body = rng.choice(messages[:25])  # few distinct texts: real re-posts
            community = f"{rng.choice(streets)}{rng.randint(1, 2):03d}"
            draft = TicketDraft(
                title=title,
                body=body[:2000],
                region_code=community,
                grid_id=f"g{rng.randint(1, 3)}" if rng.random() < 0.5 else None,
                category="城乡建设",
            )
            worker = workers[i % 2]
            with worker._session() as session:  # the previous query, through the ORM
                near = [
                    t
                    for t in session.scalars(
                        select(Ticket)
                        .where(
                            Ticket.status.in_([s.value for s in OPEN]),
                            Ticket.group_id.is_(None),
                            Ticket.created_at >= clock() - timedelta(hours=rule.window_hours),
                            or_(
                                Ticket.region_code == community,
                                *([Ticket.grid_id == draft.grid_id] if draft.grid_id else []),
                            ),
                        )
                        .order_by(Ticket.created_at.desc())
                        .limit(rule.max_candidates)
                    )
                ]
            query = _PreviousVector(ticket_text(title, draft.body, None))
            scores = _previous_scores(
                query, [_PreviousVector(ticket_text(t.title, t.body, t.address)) for t in near]
            )
            expected = sorted(
                (
                    (t.id, round(s, 3))
                    for t, s in zip(near, scores, strict=True)
                    if s >= rule.threshold
                ),
                key=lambda x: -x[1],
            )
            result = worker.intake(AGENT, draft, f"k{i}")
            assert [(d.id, d.score) for d in result.duplicates] == expected
            assert result.ticket.duplicate_of == (expected[0][0] if expected else None)
            proposals += len(expected)
            clock.now += timedelta(minutes=20)
        assert proposals > 50
    finally:
        for worker in workers:
            worker.close()


def test_working_day_deadlines_equal_a_day_by_day_walk_over_the_library() -> None:
    calendar = WorkCalendar.default()
    start = date(2025, 1, 1)
    for offset in range(0, 700, 3):
        day = start + timedelta(days=offset)
        for count in (1, 2, 3, 5, 10, 15):
            walked, left = day, count
            while left:
                walked += timedelta(days=1)
                left -= chinese_calendar.is_workday(walked)
            assert calendar.add_working_days(day, count) == (walked, False), (day, count)


def test_intake_rows_are_stored_as_core_stores_them(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 2, 1, 0))
    store = TicketStore(f"sqlite:///{tmp_path / 't.db'}", clock=clock)
    store.migrate()
    try:
        draft = TicketDraft(title="路灯不亮", body="小区门口路灯坏了一个月", category="城乡建设")
        made = store.intake(AGENT, draft, "once").ticket
        again = store.intake(AGENT, draft, "once")  # a retry replays the first ticket
        assert not again.created and again.ticket.id == made.id
        with store._session() as session:
            loaded = store._view(session.get(Ticket, made.id), session)
        assert loaded.model_dump(exclude={"history"}) == made.model_dump(exclude={"history"})
        assert [e.action for e in loaded.history] == ["intake", "dispatch"]
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "t.db") as conn:
        row = conn.execute(
            "SELECT created_at, due_at, auto_dispatched, confidential, reply_problems FROM tickets"
        ).fetchone()
        event = conn.execute("SELECT at, data FROM ticket_events ORDER BY id").fetchone()
    assert row[:4] == ("2026-11-02 01:00:00.000000", row[1], 1, 0)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", row[1])
    assert row[4] == "null"  # what Core writes for a JSON column given None
    assert event == ("2026-11-02 01:00:00.000000", None)
