"""Reply quality: the right reply beats a generic or borrowed one; parts and reasons as documented."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from zhixiang.insight import ReplyScorer, read_table
from zhixiang.insight._replies import working_days_between

TITLE = "A3区潇楚南路洋湖段怎么还没修好？"
BODY = "潇楚南路从2018年开始修，到现在都快一年了，路挖得稀烂。请有关部门监管一下，什么时候能修好？"
GOOD = (
    "网友您好！针对您反映A3区潇楚南路洋湖段怎么还没修好的问题，洋湖街道高度重视，经调查核实，"
    "该段原路基土质较差需整体换填，施工难度较大。根据《城市道路管理条例》，我们已督促施工单位增加人员，"
    "预计今年8月底完工通车。如有疑问请致电 0731-88888888。感谢您的支持。"
)
FORWARD = "您好，您反映的问题已转交相关部门处理。"
BORROWED = (
    "网友您好！针对您反映A2区丽发新城附近搅拌站噪音扰民的问题，经调查核实，该搅拌站已责令停工整改，"
    "根据《环境噪声污染防治法》进行处罚。如有疑问请致电 0731-88888888。感谢您的支持。"
)


def test_a_full_reply_beats_a_forwarding_note_and_a_reply_to_another_message() -> None:
    scorer = ReplyScorer()
    good = scorer.score(TITLE, BODY, GOOD)
    forward = scorer.score(TITLE, BODY, FORWARD)
    borrowed = scorer.score(TITLE, BODY, BORROWED)
    assert good.total > borrowed.total > forward.total
    assert good.relevance > borrowed.relevance + 0.2
    assert good.explanation == pytest.approx(1.0)
    assert not scorer.is_weak(good) and scorer.is_weak(forward)
    assert "仅告知已转办" in forward.summary and "对应不上" in borrowed.summary
    assert good.timeliness is None  # no times given: not counted, not guessed


def test_each_part_is_between_zero_and_one_and_an_empty_reply_scores_zero() -> None:
    scorer = ReplyScorer()
    for reply in (GOOD, FORWARD, BORROWED, "不归我们管，请自行解决。"):
        s = scorer.score(TITLE, BODY, reply)
        assert all(
            0.0 <= v <= 1.0 for v in (s.relevance, s.completeness, s.explanation, s.tone, s.total)
        )
    assert scorer.score(TITLE, BODY, "   ").total == 0.0
    assert scorer.score(TITLE, BODY, "不归我们管，请自行解决。").tone < 0.5


def test_timeliness_counts_working_days_across_the_national_day_holiday() -> None:
    # 2019-09-30 (Mon) → 2019-10-08 (Tue): 1–7 October are holidays, so one working day
    assert working_days_between(datetime(2019, 9, 30).date(), datetime(2019, 10, 8).date()) == 1
    scorer = ReplyScorer()
    fast = scorer.score(TITLE, BODY, GOOD, datetime(2019, 9, 30, 9), datetime(2019, 10, 8, 9))
    slow = scorer.score(TITLE, BODY, GOOD, datetime(2019, 1, 2, 9), datetime(2019, 3, 29, 9))
    assert fast.timeliness == 1.0 and fast.working_days == 1
    assert slow.timeliness is not None and slow.timeliness < 0.5 and "工作日" in slow.summary


@pytest.fixture(scope="module")
def real(replies_file: Path):  # type: ignore[no-untyped-def]
    import pandas as pd

    table = read_table(replies_file, required=["留言主题", "留言详情", "答复意见"])
    labels = pd.read_csv(replies_file, dtype=str, keep_default_na=False)["可解释性"]
    return [(m, int(labels[m.record - 1])) for m in table.messages if m.reply][:1200]


def test_agrees_with_the_hand_labels_on_real_replies(real) -> None:  # type: ignore[no-untyped-def]
    from sklearn.metrics import roc_auc_score

    scorer = ReplyScorer()
    totals = [scorer.score(m.title, m.body, m.reply, m.time, m.reply_time).total for m, _ in real]
    assert roc_auc_score([y for _, y in real], totals) > 0.85


def test_tells_the_right_reply_from_the_reply_to_the_most_similar_message(real) -> None:  # type: ignore[no-untyped-def]
    from zhixiang.insight._text import message_text, tfidf_vectors

    messages = [m for m, _ in real][:600]
    vectors = tfidf_vectors([message_text(m.title, m.body) for m in messages])
    similar = (vectors @ vectors.T).toarray()
    np.fill_diagonal(similar, -1.0)
    scorer = ReplyScorer()
    wins = 0
    for i, j in enumerate(similar.argmax(axis=1)):
        m = messages[i]
        own = scorer.score(m.title, m.body, m.reply).relevance
        other = scorer.score(m.title, m.body, messages[j].reply).relevance
        wins += own > other
    assert wins / len(messages) > 0.7
