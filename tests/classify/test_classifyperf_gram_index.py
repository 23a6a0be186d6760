"""The hashed n-gram lookup finds what bisecting the sorted vocabulary finds, and the classifier
built on it gives the previous one-pass scoring's answers on every real message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax

from zhixiang.classify import Classifier, load_model, read_messages
from zhixiang.classify._features import gram_codes, normalise
from zhixiang.classify._model import _BODY, GramIndex


def _bisected(vocabulary: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Positions by binary search, `len(vocabulary)` for codes it does not hold."""
    if not len(vocabulary):
        return np.full(len(codes), 0, np.int64)
    at = np.minimum(np.searchsorted(vocabulary, codes), len(vocabulary) - 1)
    return np.where(vocabulary[at] == codes, at, len(vocabulary))


@settings(max_examples=80, deadline=None)
@given(
    vocabulary=st.sets(st.integers(0, 2**64 - 2), max_size=3000),
    others=st.lists(st.integers(0, 2**64 - 2), max_size=300),
)
def test_positions_equal_bisection(vocabulary: set[int], others: list[int]) -> None:
    codes = np.array(sorted(vocabulary), dtype=np.uint64)
    index = GramIndex(codes)
    queries = np.concatenate([codes, np.array(others, dtype=np.uint64)])
    assert index.missing == len(codes)
    assert index.positions(queries).tolist() == _bisected(codes, queries).tolist()


def test_a_crowded_table_still_finds_every_code() -> None:
    # 40,000 random codes in 2^18 slots: thousands share a slot and go to the spill array
    rng = np.random.default_rng(13)
    codes = np.unique(rng.integers(0, 2**63, 40_000, dtype=np.uint64))
    index = GramIndex(codes)
    assert len(index._spilled) > 1_000
    queries = np.concatenate([codes, codes + np.uint64(1)])
    assert index.positions(queries).tolist() == _bisected(codes, queries).tolist()


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return load_model()


def _bisected_prediction(model: Classifier, title: str, body: str) -> tuple[str, float]:
    """The previous one-pass arithmetic: bisection over the sorted codes of both fields."""
    vocabulary = np.concatenate([model._title._codes, model._body._codes | _BODY])
    rows = model._rows[:-1]  # without the zero row for unknown grams
    codes, counts = np.unique(
        np.concatenate((gram_codes(normalise(title)), gram_codes(normalise(body)) | _BODY)),
        return_counts=True,
    )
    positions = _bisected(vocabulary, codes)
    known = positions < len(vocabulary)
    positions, counts = positions[known], counts[known]
    scores = np.zeros(len(model.labels))
    if len(positions):
        chosen = rows[positions].astype(np.float64)
        values = (1.0 + np.log(counts)) * chosen[:, 0]
        split = int(np.searchsorted(positions, len(model._title._codes)))
        for part in (values[:split], values[split:]):
            if len(part):
                part /= np.sqrt(part @ part)
        scores = values @ chosen[:, 1:]
    proba = softmax((scores + model._intercept) / model._temperature)
    best = int(proba.argmax())
    return model.labels[best], float(proba[best])


@pytest.mark.parametrize("name", ["messages_labeled.csv", "messages_unlabelled.csv"])
def test_hashed_predictions_equal_the_bisected_ones(
    shipped: Classifier, shared_data: Path, name: str
) -> None:
    messages = read_messages(shared_data / "taidi2020" / name)
    titles, bodies = messages.titles[:2000], messages.bodies[:2000]
    for title, body in zip(titles, bodies, strict=True):
        [prediction] = shipped.predict([title], [body])
        category, confidence = _bisected_prediction(shipped, title, body)
        assert prediction.category == category
        assert prediction.confidence == pytest.approx(confidence, abs=1e-9)


@pytest.mark.parametrize(
    ("title", "body"), [("", ""), ("", "噪音"), ("噪音", ""), ("x", "y"), ("\U0001f600", "")]
)
def test_fields_without_known_grams_score_as_before(
    shipped: Classifier, title: str, body: str
) -> None:
    [prediction] = shipped.predict([title], [body])
    category, confidence = _bisected_prediction(shipped, title, body)
    assert (prediction.category, prediction.confidence) == (category, pytest.approx(confidence))
