"""Real labelled messages from the shared data and one classifier trained on part of them per session.

The test model learns from 1,200 of the training side (not all 2,600): the checks below are about
behaviour, not the last point of F1, and this keeps the session's set-up to a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from zhixiang.classify import Classifier, read_messages, train_model

TRAINING_ROWS = 1_200


@dataclass(frozen=True)
class Split:
    """Titles, bodies and labels of one side of a stratified split."""

    titles: list[str]
    bodies: list[str]
    labels: list[str]


@pytest.fixture(scope="session")
def labelled(shared_data: Path) -> Split:
    messages = read_messages(shared_data / "taidi2020" / "messages_labeled.csv", labelled=True)
    assert messages.labels is not None
    return Split(messages.titles, messages.bodies, messages.labels)


@pytest.fixture(scope="session")
def held_out_split(labelled: Split) -> tuple[Split, Split]:
    """A stratified 80/20 split with a seed other than the one the reported figures use."""
    train, test = train_test_split(
        np.arange(len(labelled.labels)), test_size=0.2, stratify=labelled.labels, random_state=7
    )

    def pick(rows: np.ndarray) -> Split:
        return Split(*([column[i] for i in rows] for column in vars(labelled).values()))

    return pick(train), pick(test)


@pytest.fixture(scope="session")
def trained(held_out_split: tuple[Split, Split]) -> Classifier:
    train, _ = held_out_split
    rows, _ = train_test_split(
        np.arange(len(train.labels)),
        train_size=TRAINING_ROWS,
        stratify=train.labels,
        random_state=7,
    )
    pick = [list(column[i] for i in rows) for column in (train.titles, train.bodies, train.labels)]
    return train_model(*pick, source=f"测试: 80% 分层划分中的 {TRAINING_ROWS} 条")
