"""Working-day deadlines (调休 included), the state machine and text similarity, without a database."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

from zhixiang.tickets import (
    TRANSITIONS,
    Action,
    Status,
    TimeLimit,
    TransitionRefused,
    add_working_days,
    deadline,
    next_status,
    similarities,
)


def test_spring_festival_2026_counts_make_up_saturdays_and_skips_the_holiday() -> None:
    # Friday 13 Feb 2026, 10:00 Beijing = 02:00 UTC. 14 Feb (Sat) and 28 Feb (Sat) are 调休 workdays.
    due, estimated = deadline(datetime(2026, 2, 13, 2, 0), TimeLimit(working_days=7))
    assert due == datetime(2026, 3, 2, 15, 59, 59)  # end of Monday 2 March, Beijing time
    assert not estimated
    assert add_working_days(date(2026, 2, 13), 1) == (date(2026, 2, 14), False)
    assert add_working_days(date(2026, 2, 14), 1) == (date(2026, 2, 24), False)


def test_national_day_week_is_skipped() -> None:
    assert add_working_days(date(2026, 9, 30), 1) == (date(2026, 10, 8), False)


def test_hours_are_clock_hours_even_on_holidays() -> None:
    due, _ = deadline(datetime(2026, 10, 1, 0, 0), TimeLimit(hours=2))
    assert due == datetime(2026, 10, 1, 2, 0)


def test_a_year_the_calendar_does_not_know_is_counted_mon_to_fri_and_flagged() -> None:
    day, estimated = add_working_days(date(2026, 12, 31), 1)
    assert (day, estimated) == (date(2027, 1, 1), True)


def test_time_limit_needs_exactly_one_unit() -> None:
    with pytest.raises(ValueError):
        TimeLimit(hours=2, working_days=1)


@given(st.sampled_from(list(Status)), st.sampled_from(list(Action)))
def test_every_action_either_moves_as_the_table_says_or_is_refused(
    status: Status, action: Action
) -> None:
    rule = TRANSITIONS[action]
    if status in rule.sources:
        assert next_status(status, action) == (rule.target or status)
    else:
        with pytest.raises(TransitionRefused, match="不能"):
            next_status(status, action)


def test_archived_is_final() -> None:
    assert all(Status.ARCHIVED not in rule.sources for rule in TRANSITIONS.values())


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(alphabet="路灯不亮坏了小区垃圾噪音扰民油烟施工12 ，。", min_size=1, max_size=40),
    candidates=st.lists(
        st.text(alphabet="路灯不亮坏了小区垃圾噪音扰民油烟施工12 ，。", min_size=1, max_size=40),
        min_size=1,
        max_size=6,
    ),
)
def test_duplicate_similarity_agrees_with_sklearns_tfidf(text: str, candidates: list[str]) -> None:
    matrix = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True).fit_transform(
        [text, *candidates]
    )
    expected = linear_kernel(matrix[0:1], matrix[1:]).ravel()
    assert similarities(text, candidates) == pytest.approx(list(expected), abs=1e-9)
