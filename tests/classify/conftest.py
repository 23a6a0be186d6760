"""Real labelled messages from ../shared/data and one classifier trained on 80% of them per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from zhixiang.classify import Classifier, read_messages, train_model


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
    return train_model(train.titles, train.bodies, train.labels, source="测试: 80% 分层划分")
