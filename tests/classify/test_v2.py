"""Classifier v2: duplicates across the two labelled files, folds that keep re-posts together,
feature codes, and the Beijing levels and routing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zhixiang.classify import (
    fold_rare_paths,
    predict_levels,
    read_work_orders,
    train_model,
    train_router,
    training_corpus,
)
from zhixiang.classify._evaluation import grouped_splits
from zhixiang.classify._features import gram_codes, term_code
from zhixiang.config import load_settings


@given(st.text(max_size=40))
def test_gram_codes_are_the_codes_of_every_1_to_3_gram(text: str) -> None:
    grams = [text[i : i + n] for n in (1, 2, 3) for i in range(len(text) - n + 1)]
    assert sorted(gram_codes(text).tolist()) == sorted(term_code(g) for g in grams)


def test_segmented_copies_of_labelled_messages_are_dropped_and_reposts_share_a_group(
    tmp_path: Path,
) -> None:
    labelled, segmented = tmp_path / "l.csv", tmp_path / "s.csv"
    body = "我们小区三栋电梯坏了两个月物业一直不修老人上下楼非常困难请相关部门督促维修"
    labelled.write_text(
        "留言主题,留言详情,一级分类\n"
        f"小区电梯长期故障,{body},城乡建设\n"
        f"小区电梯长期故障无人维修,{body}。再次反映,城乡建设\n"
        "孩子上学难,学区小学说学位不够孩子今年无法入学请教育局解决学位问题,教育文体\n",
        encoding="utf-8",
    )
    segmented.write_text(
        "分词文本_去停用词,一级分类\n"
        "小区 电梯 长期 故障 三栋 电梯 坏 两个 月 物业 一直 不修 老人 上下楼 困难 请 相关 部门 督促 维修,城乡建设\n"
        "医院 挂号 排队 太久 专家号 难 挂 希望 增加 号源 便民 服务,卫生计生\n",
        encoding="utf-8",
    )
    corpus = training_corpus(labelled, segmented)
    assert corpus.dropped_duplicates == 1 and corpus.extra == [False, False, False, True]
    assert corpus.groups[0] == corpus.groups[1] != corpus.groups[2]
    assert corpus.bodies[3].startswith("医院挂号")


def test_grouped_splits_never_test_an_extra_row_or_split_a_group() -> None:
    labels = ["a", "b"] * 20 + ["a", "b"] * 5
    groups = [i // 2 for i in range(40)] + list(range(100, 110))
    extra = [False] * 40 + [True] * 10
    for train, test in grouped_splits(labels, groups, extra, folds=4, repeats=2):
        assert not set(test) & set(range(40, 50))
        tested = {groups[i] for i in test}
        assert not tested & {groups[i] for i in train}
        assert set(range(40, 50)) <= set(train)


def test_rare_paths_fold_into_a_parent_that_has_enough_messages() -> None:
    paths = ["企业服务->市场管理->营业执照"] * 3 + [
        "企业服务->市场管理->变更",
        "企业服务->市场管理->注销",
        "教育",
    ]
    assert fold_rare_paths(paths) == ["企业服务->市场管理->营业执照"] * 3 + [
        "企业服务->市场管理"
    ] * 2 + ["教育"]


@pytest.fixture(scope="module")
def orders():  # type: ignore[no-untyped-def]
    path = load_settings().shared_data_dir / "beijing12345" / "work_orders.csv"
    if not path.is_file():
        pytest.skip(f"real data absent: {path}")
    return read_work_orders(path)


def test_levels_and_routing_on_beijing_work_orders(orders) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    test = set(rng.choice(len(orders.paths), 60, replace=False).tolist())
    train = [i for i in range(len(orders.paths)) if i not in test]
    pick = lambda seq, idx: [seq[i] for i in idx]  # noqa: E731
    folded = fold_rare_paths(pick(orders.paths, train))
    keep = [i for i, p in zip(train, folded, strict=True) if folded.count(p) >= 2]
    model = train_model(
        pick(orders.titles, keep),
        pick(orders.bodies, keep),
        fold_rare_paths(pick(orders.paths, keep)),
    )
    held = sorted(test)
    levels = predict_levels(model, pick(orders.titles, held), pick(orders.bodies, held))
    top = np.mean(
        [
            lv[0][0] == p.split("->")[0]
            for lv, p in zip(levels, pick(orders.paths, held), strict=True)
        ]
    )
    assert top > 0.7
    assert all(
        lv[0][1] >= lv[-1][1] for lv in levels
    )  # a level is never less sure than the one below
    router = train_router(
        pick(orders.titles, train), pick(orders.bodies, train), pick(orders.units, train)
    )
    routes = router.route(
        pick(orders.titles, held), pick(orders.bodies, held), pick(orders.districts, held)
    )
    right = np.mean([r.unit == u for r, u in zip(routes, pick(orders.units, held), strict=True)])
    assert right > 0.5
    assert all(
        r.unit == "人工派单"
        for r, d in zip(routes, pick(orders.districts, held), strict=True)
        if d in ("", "不详") and r.reason.startswith("属地")
    )
