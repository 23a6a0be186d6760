"""The classifier: held-out quality, calibrated confidences, persistence, and input checks."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score

from zhixiang.classify import SHIPPED_MODEL, Classifier, Prediction, load_model, train_model
from zhixiang.classify._evaluation import expected_calibration_error
from zhixiang.classify._features import char_ngrams
from zhixiang.classify._model import TextField

Split = Any  # tests/classify/conftest.py: titles, bodies and labels of one side of a split


def test_beats_the_majority_class_by_a_wide_margin_on_a_held_out_split(
    trained: Classifier, held_out_split: tuple[Split, Split]
) -> None:
    train, test = held_out_split
    predicted = [p.category for p in trained.predict(test.titles, test.bodies)]
    majority = Counter(train.labels).most_common(1)[0][0]
    baseline = [majority] * len(test.labels)

    macro_f1 = f1_score(test.labels, predicted, average="macro")
    assert macro_f1 >= 0.65
    assert macro_f1 >= f1_score(test.labels, baseline, average="macro") + 0.5
    assert accuracy_score(test.labels, predicted) >= accuracy_score(test.labels, baseline) + 0.4


def test_confidences_are_calibrated_probabilities_of_the_predicted_class(
    trained: Classifier, held_out_split: tuple[Split, Split]
) -> None:
    _, test = held_out_split
    proba = trained.probabilities(test.titles, test.bodies)
    predictions = trained.predict(test.titles, test.bodies)
    confidence = np.array([p.confidence for p in predictions])

    assert np.allclose(proba.sum(axis=1), 1.0)
    assert ((confidence >= 0.0) & (confidence <= 1.0)).all()
    assert np.allclose(confidence, proba.max(axis=1))
    correct = np.array([p.category == y for p, y in zip(predictions, test.labels, strict=True)])
    assert confidence[correct].mean() > confidence[~correct].mean() + 0.1
    # calibrated: ECE here is 0.05; dividing the temperature by 5 (over-confident) gives 0.17
    assert expected_calibration_error(confidence, correct) < 0.12
    assert abs(confidence.mean() - correct.mean()) < 0.08


def test_save_then_load_gives_identical_predictions(
    trained: Classifier, held_out_split: tuple[Split, Split], tmp_path: Path
) -> None:
    _, test = held_out_split
    path = tmp_path / "models" / "classifier.joblib"
    trained.save(path)
    loaded = load_model(path)

    assert loaded.version == trained.version
    assert loaded.labels == trained.labels
    assert loaded.predict(test.titles, test.bodies) == trained.predict(test.titles, test.bodies)
    assert json.loads(path.with_suffix(".json").read_text("utf-8"))["version"] == trained.version


def test_shipped_model_is_small_versioned_and_documents_its_training_and_figures() -> None:
    model = load_model()
    metadata = json.loads(SHIPPED_MODEL.with_suffix(".json").read_text("utf-8"))

    assert SHIPPED_MODEL.stat().st_size < 8_000_000
    assert model.version == metadata["version"] and model.version.startswith("charsvm-")
    assert len(model.labels) == 7
    assert metadata["training_data"]["messages"] > 8_000
    assert "segmented" in metadata["training_data"]["source"]
    assert "group" in metadata["evaluation"]["method"]
    assert metadata["evaluation"]["macro_f1"]["mean"] > 0.85
    assert "std" in metadata["evaluation"]["per_class_f1"]["环境保护"]
    [prediction] = model.predict(
        ["小学学位紧张，孩子上学难"], ["我家孩子今年上小学，学区学校说学位不够。"]
    )
    assert prediction == Prediction(category="教育文体", confidence=prediction.confidence)


def test_trains_and_predicts_with_two_classes(labelled: Split) -> None:
    keep = [i for i, y in enumerate(labelled.labels) if y in {"教育文体", "卫生计生"}]
    model = train_model(
        [labelled.titles[i] for i in keep],
        [labelled.bodies[i] for i in keep],
        [labelled.labels[i] for i in keep],
    )
    proba = model.probabilities(labelled.titles[:5], labelled.bodies[:5])
    assert proba.shape == (5, 2) and np.allclose(proba.sum(axis=1), 1.0)


def test_mismatched_titles_and_bodies_are_refused(trained: Classifier) -> None:
    with pytest.raises(ValueError, match="一一对应"):
        trained.predict(["标题一", "标题二"], ["正文"])
    assert trained.predict([], []) == []


def test_training_refuses_a_class_with_one_example() -> None:
    titles = ["公交晚点"] * 5 + ["学校收费"] * 5 + ["医院排队"]
    labels = ["交通运输"] * 5 + ["教育文体"] * 5 + ["卫生计生"]
    with pytest.raises(ValueError, match="卫生计生"):
        train_model(titles, titles, labels)


def test_loading_a_file_that_is_not_a_model_names_the_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.joblib"
    bogus.write_text("这不是模型")
    with pytest.raises(ValueError, match=r"bogus\.joblib"):
        load_model(bogus)
    with pytest.raises(FileNotFoundError, match=r"missing\.joblib"):
        load_model(tmp_path / "missing.joblib")


_FIT_TEXTS = [
    "小区 噪音扰民，晚上施工",
    "孩子上学难，学位不够",
    "公交车晚点 A1区",
    "医院挂号排队久",
]
_TEXT = st.text(
    alphabet=st.sampled_from(list("小区噪音扰民晚上施工孩子上学难公交医院 \t\nA1区，。"))
)


@settings(max_examples=60, deadline=None)
@given(text=_TEXT)
def test_fast_features_agree_with_sklearn_tfidf(text: str) -> None:
    vectorizer = char_ngrams(min_df=1).fit(_FIT_TEXTS)
    weights = np.random.default_rng(0).normal(size=(len(vectorizer.vocabulary_), 3))
    weights = weights.astype(np.float32)
    field = TextField.from_vectorizer(vectorizer, weights)

    expected = np.asarray(vectorizer.transform([text]) @ weights.astype(np.float64))[0]
    assert np.allclose(field.scores(text), expected, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=6))
def test_one_at_a_time_agrees_with_batch(trained: Classifier, rows: list[tuple[str, str]]) -> None:
    titles, bodies = [t for t, _ in rows], [b for _, b in rows]
    batch = trained.predict(titles, bodies)
    singles = [trained.predict([t], [b])[0] for t, b in rows]
    assert batch == singles
