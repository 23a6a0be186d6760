"""The one-pass classifier scoring gives the shipped model's previous answers (two passes, one per
field, and scipy's softmax) on every real message: same category, same confidence to 1e-9."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax

from zhixiang.classify import Classifier, load_model, read_messages
from zhixiang.classify._features import normalise


def _two_pass(model: Classifier, title: str, body: str) -> tuple[str, float]:
    """The previous arithmetic: each field scored on its own, the scores summed."""
    scores = model._title.scores(title) + model._body.scores(body)
    proba = softmax((scores + model._intercept) / model._temperature)
    best = int(proba.argmax())
    return model.labels[best], float(proba[best])


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return load_model()


@pytest.mark.parametrize("name", ["messages_labeled.csv", "messages_unlabelled.csv"])
def test_one_pass_predictions_equal_the_two_pass_ones(
    shipped: Classifier, shared_data: Path, name: str
) -> None:
    messages = read_messages(shared_data / "taidi2020" / name)
    titles, bodies = messages.titles[:3000], messages.bodies[:3000]
    batch = shipped.predict(titles, bodies)
    categories = set()
    for prediction, title, body in zip(batch, titles, bodies, strict=True):
        category, confidence = _two_pass(shipped, title, body)
        assert prediction.category == category
        assert prediction.confidence == pytest.approx(confidence, abs=1e-9)
        categories.add(category)
    assert len(categories) > 3  # the messages exercise several classes, not one


@pytest.mark.parametrize(
    ("title", "body"), [("", ""), ("", "小区噪音"), ("噪音", ""), ("x", "y"), ("ÿ", "\U0001f600")]
)
def test_empty_and_unknown_fields_score_as_before(
    shipped: Classifier, title: str, body: str
) -> None:
    [prediction] = shipped.predict([title], [body])
    category, confidence = _two_pass(shipped, title, body)
    assert (prediction.category, prediction.confidence) == (category, pytest.approx(confidence))
    assert np.isclose(shipped.probabilities([title], [body]).sum(), 1.0)


def _old_normalise(text: str) -> str:
    """The previous definition: the library's NFKC on the whole text, then regex space folding."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", " ", text).strip().lower()


_TRICKY = st.sampled_from(
    list(
        "，。！？：；（）　Ａａ１①㎡℃…\xa0﹝︰￥″ﬁ\u0301\u0308e\u3099か\u1100\u1161 \t\n\r\u2028\u00a8ǅ"
    )
)


@settings(max_examples=300, deadline=None)
@given(st.text(_TRICKY | st.characters(), max_size=30))
def test_fast_normalise_is_nfkc_and_space_folding(text: str) -> None:
    assert normalise(text) == _old_normalise(text)


def test_fast_normalise_on_every_real_message(shared_data: Path) -> None:
    messages = read_messages(shared_data / "taidi2020" / "messages_labeled.csv")
    texts = messages.titles + messages.bodies
    assert [normalise(t) for t in texts] == [_old_normalise(t) for t in texts]
