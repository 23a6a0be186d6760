"""Honest figures for the classifier: stratified k-fold CV (mean ± std over folds) and a held-out split.

Every figure comes from models trained without the messages they are scored on; the shipped model's
CV runs the whole `train_model` procedure per fold, calibration included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from zhixiang.classify._features import char_ngrams, word_ngrams
from zhixiang.classify._model import as_columns, build_pipeline, train_model


@dataclass(frozen=True)
class Scores:
    """Figures of one or more evaluation rounds (folds), one list entry per round."""

    labels: tuple[str, ...]
    macro_f1: list[float]
    accuracy: list[float]
    per_class_f1: dict[str, list[float]]
    calibration_error: list[float]
    confidence: list[float]
    correct: list[bool]

    def dispatch_table(self, thresholds: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.9)) -> str:
        """For each confidence threshold: the share dispatched automatically and how many were right."""
        confidence, correct = np.asarray(self.confidence), np.asarray(self.correct)
        lines = ["  阈值  自动派单占比  其中分类正确"]
        for threshold in thresholds:
            chosen = confidence >= threshold
            right = correct[chosen].mean() if chosen.any() else float("nan")
            lines.append(f"  {threshold:.2f}  {chosen.mean():>10.1%}  {right:>12.1%}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """Means and standard deviations over rounds, for model metadata and JSON output."""
        return {
            "rounds": len(self.macro_f1),
            "macro_f1": _mean_std(self.macro_f1),
            "accuracy": _mean_std(self.accuracy),
            "expected_calibration_error": _mean_std(self.calibration_error)
            if self.calibration_error
            else None,
            "per_class_f1": {c: _mean_std(v) for c, v in self.per_class_f1.items()},
        }


def cross_validate(
    titles: Sequence[str],
    bodies: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Scores:
    """Stratified k-fold CV of the full `train_model` procedure (features, SVM, calibration)."""
    columns, y = as_columns(titles, bodies), np.asarray(labels, dtype=object)
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    rounds = []
    for done, (train, test) in enumerate(splitter.split(columns, y), start=1):
        rounds.append(_score_classifier(columns, y, train, test))
        if progress is not None:
            progress(done, folds * repeats)
    return _collect(sorted(set(y)), rounds)


def holdout(
    titles: Sequence[str],
    bodies: Sequence[str],
    labels: Sequence[str],
    *,
    test_size: float = 0.2,
    seed: int = 0,
) -> tuple[Scores, Scores]:
    """One stratified train/test split: (the classifier's scores, the majority-class baseline's)."""
    columns, y = as_columns(titles, bodies), np.asarray(labels, dtype=object)
    train, test = train_test_split(
        np.arange(len(y)), test_size=test_size, stratify=y, random_state=seed
    )
    model = _score_classifier(columns, y, train, test)
    majority = DummyClassifier(strategy="most_frequent").fit(columns[train], y[train])
    baseline = _round(y[test], majority.predict(columns[test]), None)
    names = sorted(set(y))
    return _collect(names, [model]), _collect(names, [baseline])


CANDIDATES: dict[str, tuple[str, Callable[[int], Any]]] = {
    "majority": ("多数类基线", lambda n: DummyClassifier(strategy="most_frequent")),
    "word-lr": (
        "jieba 词 1–2 元 TF-IDF（主题+详情合并）+ 逻辑回归",
        lambda n: Pipeline(
            [
                ("features", _joined(word_ngrams())),
                ("model", LogisticRegression(C=10, max_iter=3000)),
            ]
        ),
    ),
    "word-svm": (
        "jieba 词 1–2 元 TF-IDF（主题、详情分开）+ LinearSVC",
        lambda n: Pipeline(
            [
                ("features", _separate(word_ngrams(2), word_ngrams(2))),
                ("model", LinearSVC(class_weight="balanced", random_state=0)),
            ]
        ),
    ),
    "char-joined-svm": (
        "字符 1–3 元 TF-IDF（主题+详情合并）+ LinearSVC",
        lambda n: Pipeline(
            [
                ("features", _joined(char_ngrams(2))),
                ("model", LinearSVC(class_weight="balanced", random_state=0)),
            ]
        ),
    ),
    "char-nb": (
        "字符 1–3 元 TF-IDF（主题、详情分开）+ 补集朴素贝叶斯",
        lambda n: Pipeline(
            [
                ("features", _separate(char_ngrams(2), char_ngrams(2))),
                ("model", ComplementNB(alpha=0.3)),
            ]
        ),
    ),
    "char+word-svm": (
        "字符 1–3 元 + jieba 词 TF-IDF（主题、详情分开）+ LinearSVC",
        lambda n: Pipeline(
            [
                (
                    "features",
                    ColumnTransformer(
                        [
                            ("title", char_ngrams(2), 0),
                            ("body", char_ngrams(2), 1),
                            ("title_words", word_ngrams(2), 0),
                            ("body_words", word_ngrams(2), 1),
                        ]
                    ),
                ),
                ("model", LinearSVC(class_weight="balanced", random_state=0)),
            ]
        ),
    ),
    "char-svm": ("字符 1–3 元 TF-IDF（主题、详情分开）+ LinearSVC — 交付模型", build_pipeline),
}
SHIPPED_CANDIDATE = "char-svm"


def compare_candidates(
    titles: Sequence[str],
    bodies: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int = 5,
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Macro-F1 per fold for each candidate on the same repeated stratified folds (arg-max only)."""
    columns, y = as_columns(titles, bodies), np.asarray(labels, dtype=object)
    splits = list(
        RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed).split(
            columns, y
        )
    )
    results: dict[str, list[float]] = {}
    for name, (_, make) in CANDIDATES.items():
        scores = []
        for train, test in splits:
            model = clone(make(len(train))).fit(columns[train], y[train])
            scores.append(float(f1_score(y[test], model.predict(columns[test]), average="macro")))
        results[name] = scores
    return results


def format_scores(scores: Scores, title: str) -> str:
    """A plain-text table: macro-F1, accuracy, calibration error and per-class F1 (mean ± std)."""
    many = len(scores.macro_f1) > 1

    def show(values: list[float]) -> str:
        mean, std = _mean_std(values).values()
        return f"{mean:.3f} ± {std:.3f}" if many else f"{mean:.3f}"

    lines = [
        title,
        f"  macro-F1            {show(scores.macro_f1)}",
        f"  accuracy            {show(scores.accuracy)}",
    ]
    if scores.calibration_error:
        lines.append(f"  calibration (ECE)   {show(scores.calibration_error)}")
    lines.append("  per-class F1:")
    lines += [
        f"    {label}{' ' * (16 - 2 * len(label))}{show(scores.per_class_f1[label])}"
        for label in scores.labels
    ]
    return "\n".join(lines)


def _score_classifier(
    columns: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray
) -> dict[str, Any]:
    model = train_model(list(columns[train, 0]), list(columns[train, 1]), list(y[train]))
    proba = model.probabilities(list(columns[test, 0]), list(columns[test, 1]))
    predicted = np.asarray(model.labels, dtype=object)[proba.argmax(axis=1)]
    return _round(y[test], predicted, proba.max(axis=1))


def _round(
    truth: np.ndarray, predicted: np.ndarray, confidence: np.ndarray | None
) -> dict[str, Any]:
    names = sorted(set(truth) | set(predicted))
    per_class = f1_score(truth, predicted, labels=names, average=None, zero_division=0.0)
    return {
        "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0.0)),
        "accuracy": float(accuracy_score(truth, predicted)),
        "per_class": dict(zip(names, map(float, per_class), strict=True)),
        "ece": None
        if confidence is None
        else expected_calibration_error(confidence, predicted == truth),
        "confidence": [] if confidence is None else confidence.tolist(),
        "correct": [] if confidence is None else (predicted == truth).tolist(),
    }


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 10
) -> float:
    """Mean |confidence − accuracy| over equal-width confidence bins, weighted by bin size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            error += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(error)


def _collect(names: list[str], rounds: list[dict[str, Any]]) -> Scores:
    return Scores(
        labels=tuple(names),
        macro_f1=[r["macro_f1"] for r in rounds],
        accuracy=[r["accuracy"] for r in rounds],
        per_class_f1={n: [r["per_class"].get(n, 0.0) for r in rounds] for n in names},
        calibration_error=[r["ece"] for r in rounds if r["ece"] is not None],
        confidence=[c for r in rounds for c in r["confidence"]],
        correct=[bool(c) for r in rounds for c in r["correct"]],
    )


def _mean_std(values: list[float]) -> dict[str, float]:
    return {"mean": round(float(np.mean(values)), 4), "std": round(float(np.std(values)), 4)}


def _separate(title: Any, body: Any) -> ColumnTransformer:
    return ColumnTransformer([("title", title, 0), ("body", body, 1)])


def _joined(vectorizer: Any) -> Pipeline:
    return Pipeline([("join", FunctionTransformer(_join_columns)), ("vectorizer", vectorizer)])


def _join_columns(columns: np.ndarray) -> list[str]:
    return [f"{title} {body}" for title, body in columns]
