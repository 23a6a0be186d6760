"""Hot topics: the same problem at the same place is one topic; the heat index behaves as documented."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from zhixiang.insight import Message, Topic, TopicSettings, find_topics, heat_index, read_table

T0 = datetime(2019, 11, 1, 9)


def msg(
    i: int, title: str, body: str, *, user: str | None = None, days: float = 0, likes: int = 0
) -> Message:
    return Message(i, str(i), title, body, T0 + timedelta(days=days), user or f"U{i}", likes)


def made_up() -> list[Message]:
    noise = [
        msg(
            i,
            f"丽发新城附近搅拌站噪音扰民{i}",
            "丽发新城小区旁边新建搅拌站，夜间施工噪音很大，灰尘污染严重",
            days=i,
        )
        for i in range(1, 7)
    ]
    parking = [
        msg(
            10 + i,
            "伊景园滨河苑捆绑销售车位",
            "伊景园滨河苑开发商要求购房必须同时购买车位，强制捆绑销售",
            days=i,
        )
        for i in range(1, 5)
    ]
    other = [
        msg(20, "A3区某路口红绿灯配时不合理", "早高峰排队很长"),
        msg(21, "咨询公积金提取", "离职后如何提取住房公积金"),
        msg(22, "盛世花园小区附近搅拌站噪音扰民", "盛世花园小区旁边建了搅拌站，夜间施工噪音很大"),
        msg(23, "盛世花园小区附近搅拌站噪音扰民", "盛世花园小区边上的搅拌站晚上施工太吵"),
    ]
    return noise + parking + other


def test_same_problem_same_place_is_one_topic_and_other_places_stay_apart() -> None:
    topics = find_topics(made_up(), settings=TopicSettings(jobs=1))
    by_place = {t.place: t for t in topics}
    noise = next(t for t in topics if "丽发新城" in t.place)
    parking = next(t for t in topics if "伊景园滨河苑" in t.place)
    assert sorted(noise.message_ids, key=int) == [str(i) for i in range(1, 7)]
    assert sorted(parking.message_ids, key=int) == ["11", "12", "13", "14"]
    assert not any({"22", "23"} & set(t.message_ids) for t in (noise, parking))
    assert noise.time_range == "2019/11/02 至 2019/11/07"
    assert all(t.size >= 2 for t in topics) and len(by_place) == len(topics)
    assert [t.rank for t in topics] == list(range(1, len(topics) + 1))
    assert topics == sorted(topics, key=lambda t: -t.heat)


def test_heat_grows_with_reporters_and_support_and_cools_with_age() -> None:
    settings = TopicSettings()
    now = T0 + timedelta(days=10)
    base = [msg(i, "路灯不亮", "路灯不亮", days=9) for i in range(3)]
    same_person = [msg(i, "路灯不亮", "路灯不亮", user="U0", days=9) for i in range(3)]
    liked = [*base[:2], msg(2, "路灯不亮", "路灯不亮", days=9, likes=50)]
    old = [msg(i, "路灯不亮", "路灯不亮", days=-80) for i in range(3)]
    heat = lambda ms: heat_index(ms, now, settings)[0]  # noqa: E731
    assert heat(base) > heat(same_person)
    assert heat(liked) > heat(base)
    assert heat(old) < 0.6 * heat(base)
    rising = [msg(i, "路灯不亮", "路灯不亮", days=9) for i in range(6)]
    steady = [msg(i, "路灯不亮", "路灯不亮", days=9 - 3 * (i % 2) * 5) for i in range(6)]
    assert heat_index(rising, now, settings)[2] > heat_index(steady, now, settings)[2]


@pytest.fixture(scope="module")
def real_topics(votes_file: Path) -> list[Topic]:
    table = read_table(votes_file, required=["留言主题", "留言详情"])
    return find_topics(table.messages, top=20)


def test_the_real_hot_topics_are_found(real_topics: list[Topic]) -> None:
    """The known problems of the 2019 board: the 丽发新城 mixing plant, 伊景园滨河苑's bundled
    parking spaces, the 58车贷 case — each one topic with its place and time range."""

    def topic_of(place: str) -> Topic:
        return next(t for t in real_topics[:10] if place in t.place)

    noise, parking, loans = topic_of("丽发新城"), topic_of("伊景园滨河苑"), topic_of("58车贷")
    assert noise.size >= 30 and "搅拌" in noise.title and noise.start.year == 2019
    assert parking.size >= 40 and "车位" in parking.title
    assert loans.size >= 8
    assert len(set(noise.message_ids) & set(parking.message_ids)) == 0
    assert all(len(t.representatives) >= 2 for t in (noise, parking, loans))


@pytest.mark.parametrize("texts", [[("!", "?")], [("a", "b")], [("!", "?"), ("xyz", "qq")]])
def test_messages_sharing_no_text_give_no_topics_rather_than_an_error(texts) -> None:
    """A fresh store with a ticket or two of a few characters must not break the hot-topic panel."""
    messages = [
        Message(record=i, id=str(i), title=t, body=b, time=datetime(2026, 1, 1))
        for i, (t, b) in enumerate(texts)
    ]
    assert find_topics(messages) == []
