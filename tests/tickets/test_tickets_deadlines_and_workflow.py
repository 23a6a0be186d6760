"""Working-day deadlines (调休 included) over an injected calendar, the state machine and text
similarity, without a database."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

from zhixiang.tickets import (
    TRANSITIONS,
    Action,
    InvalidInput,
    NgramIndex,
    Status,
    TimeLimit,
    TransitionRefused,
    WorkCalendar,
    YearSchedule,
    add_working_days,
    deadline,
    next_status,
    parse_holidays,
    similarities,
)

LIBRARY = WorkCalendar.default()


def test_spring_festival_2026_counts_make_up_saturdays_and_skips_the_holiday() -> None:
    # Friday 13 Feb 2026, 10:00 Beijing = 02:00 UTC. 14 Feb (Sat) and 28 Feb (Sat) are 调休 workdays.
    due, estimated = deadline(datetime(2026, 2, 13, 2, 0), TimeLimit(working_days=7), LIBRARY)
    assert due == datetime(2026, 3, 2, 15, 59, 59)  # end of Monday 2 March, Beijing time
    assert not estimated
    assert add_working_days(date(2026, 2, 13), 1, LIBRARY) == (date(2026, 2, 14), False)
    assert add_working_days(date(2026, 2, 14), 1, LIBRARY) == (date(2026, 2, 24), False)


def test_national_day_week_is_skipped() -> None:
    assert add_working_days(date(2026, 9, 30), 1, LIBRARY) == (date(2026, 10, 8), False)


def test_hours_are_clock_hours_even_on_holidays() -> None:
    due, _ = deadline(datetime(2026, 10, 1, 0, 0), TimeLimit(hours=2), LIBRARY)
    assert due == datetime(2026, 10, 1, 2, 0)


def test_a_year_the_calendar_does_not_know_is_counted_mon_to_fri_and_flagged() -> None:
    known = WorkCalendar.of([YearSchedule(2026, frozenset(), frozenset())])
    assert known.add_working_days(date(2026, 12, 30), 1) == (date(2026, 12, 31), False)
    day, estimated = known.add_working_days(date(2026, 12, 31), 1)
    assert estimated and day.year == 2027 and day.weekday() < 5
    assert known.add_working_days(date(2027, 3, 5), 1) == (date(2027, 3, 8), True)


HOLIDAYS_2027 = """
2027:
  source: 管理员录入（测试数据，非官方安排）
  holidays: [2027-01-01, 2027-02-08..2027-02-12]
  workdays: [2027-02-06]
"""


def test_an_administrators_file_makes_a_year_known(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(HOLIDAYS_2027, "utf-8")
    calendar = WorkCalendar.default(path, library=False)
    assert calendar.known_years() == [2027]
    assert calendar.add_working_days(date(2026, 12, 31), 1) == (date(2027, 1, 4), False)
    assert calendar.is_workday(date(2027, 2, 6)) == (True, False)  # a Saturday worked (调休)
    assert calendar.add_working_days(date(2027, 2, 5), 1) == (date(2027, 2, 6), False)
    assert calendar.add_working_days(date(2027, 2, 6), 1) == (date(2027, 2, 15), False)
    merged = WorkCalendar.default(path)
    assert {2026, 2027} <= set(merged.known_years())


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2027: {holidays: [2027-02-30]}", "2027.holidays[0]"),
        ("2027: {holidays: [2026-12-31]}", "不在 2027 年内"),
        ("2027: {holidays: [2027-01-01], workdays: [2027-01-01]}", "同时是假日和调休"),
        ("2027: {holiday: [2027-01-01]}", "未知字段"),
        ("next: {holidays: []}", "不是年份"),
        ("2027: [1, 2", "不是合法的 YAML"),
    ],
)
def test_a_broken_holidays_file_is_refused_naming_the_entry(text: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words.replace("[", r"\[").replace(".", r"\.")):
        parse_holidays(text)


@settings(max_examples=200, deadline=None)
@given(
    st.dates(min_value=date(2005, 1, 1), max_value=date(2026, 10, 31)),
    st.integers(min_value=0, max_value=40),
)
def test_the_precomputed_tables_agree_with_the_library_day_by_day(start: date, count: int) -> None:
    day, left = start, count
    while left > 0 and day.year <= 2026:
        day += timedelta(days=1)
        left -= chinese_calendar.is_workday(day)
    if day.year > 2026:
        return
    assert LIBRARY.add_working_days(start, count) == (day, False)


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


#: Characters that could upset integer gram codes: NUL (a 2-gram starting with it is the bare next
#: character's code without the 1-gram tag), a lone surrogate, astral-plane emoji, upper case.
_ODD = "\x00\ud800😀𠀀Aa 路灯\t\n"


@settings(max_examples=80, deadline=None)
@given(
    text=st.text(alphabet=_ODD, max_size=12),
    candidates=st.lists(st.text(alphabet=_ODD, max_size=12), min_size=1, max_size=5),
)
def test_duplicate_similarity_agrees_with_sklearn_on_odd_characters(
    text: str, candidates: list[str]
) -> None:
    if not any((text, *candidates)):
        return  # sklearn refuses an empty vocabulary; ours scores every pair 0
    matrix = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True).fit_transform(
        [text, *candidates]
    )
    expected = linear_kernel(matrix[0:1], matrix[1:]).ravel()
    assert similarities(text, candidates) == pytest.approx(list(expected), abs=1e-9)


def test_empty_texts_score_zero() -> None:
    assert similarities("", ["", "路灯坏了"]) == [0.0, 0.0]
    assert similarities("路灯坏了", [""]) == [0.0]
    assert similarities("路灯坏了", []) == []


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(alphabet="路灯不亮坏了小区垃圾噪音扰民油烟施工12 ，。", min_size=1, max_size=40),
    candidates=st.lists(
        st.text(alphabet="路灯不亮坏了小区垃圾噪音扰民油烟施工12 ，。", min_size=1, max_size=40),
        min_size=1,
        max_size=6,
    ),
)
def test_the_ngram_index_scores_as_the_direct_computation(text: str, candidates: list[str]) -> None:
    index = NgramIndex(capacity=3)  # smaller than the candidates: evicted entries are re-fetched
    ids = list(range(len(candidates)))
    fetched: list[int] = []

    def fetch(wanted: list[int]) -> dict[int, str]:
        fetched.extend(wanted)
        return {i: candidates[i] for i in wanted}

    for _ in range(2):
        assert index.scores(text, ids, fetch) == pytest.approx(similarities(text, candidates))
    assert len(index) <= max(3, len(candidates))


def test_the_holidays_example_in_the_docs_is_2026_as_the_library_knows_it() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "tickets.md").read_text("utf-8")
    block = page.split("```yaml file=holidays.yaml\n", 1)[1].split("```", 1)[0]
    documented = parse_holidays(block)[2026]
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]
    library = LIBRARY.schedules[2026]
    assert [documented.is_workday(d) for d in days] == [library.is_workday(d) for d in days]
