"""Honest figures for the classifier: repeated stratified k-fold CV (mean ± std over folds) with
near-duplicates kept in one fold, and a held-out split.

Every figure comes from models trained without the messages they are scored on (nor any re-post of
them); segmented-only messages are trained on but never scored, since tickets arrive as raw text.
The shipped model's CV runs the whole `train_model` procedure per fold, calibration included.
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
from sklearn.model_selection import StratifiedGroupKFold
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


def grouped_splits(
    labels: Sequence[str],
    groups: Sequence[int] | None = None,
    extra: Sequence[bool] | None = None,
    *,
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Repeated stratified k-fold splits where a group (one complaint and its re-posts) is never on
    both sides, and `extra` rows are trained on when their group is not being tested."""
    y = np.asarray(labels, dtype=object)
    groups_ = np.asarray(groups if groups is not None else np.arange(len(y)))
    extra_ = np.asarray(extra if extra is not None else np.zeros(len(y), bool), dtype=bool)
    scored = np.flatnonzero(~extra_)
    extras = np.flatnonzero(extra_)
    splits = []
    for repeat in range(repeats):
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed + repeat)
        for train, test in splitter.split(scored, y[scored], groups_[scored]):
            tested = set(groups_[scored[test]].tolist())
            usable = (
                extras[[g not in tested for g in groups_[extras].tolist()]]
                if len(extras)
                else extras
            )
            splits.append((np.concatenate([scored[train], usable]), scored[test]))
    return splits


def cross_validate(
    titles: Sequence[str],
    bodies: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int = 5,
    repeats: int = 1,
    seed: int = 0,
    groups: Sequence[int] | None = None,
    extra: Sequence[bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Scores:
    """Grouped stratified k-fold CV of the full `train_model` procedure (features, SVM, calibration)."""
    columns, y = as_columns(titles, bodies), np.asarray(labels, dtype=object)
    splits = grouped_splits(labels, groups, extra, folds=folds, repeats=repeats, seed=seed)
    rounds = []
    for done, (train, test) in enumerate(splits, start=1):
        rounds.append(_score_classifier(columns, y, train, test))
        if progress is not None:
            progress(done, len(splits))
    return _collect(sorted(set(y[~np.asarray(extra, bool)] if extra is not None else y)), rounds)


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
    groups: Sequence[int] | None = None,
    extra: Sequence[bool] | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, list[float]]:
    """Macro-F1 per fold for each candidate on the same grouped folds (arg-max: temperature scaling
    never changes it). `<name>/no-extra` trains the same candidate without the extra rows."""
    columns, y = as_columns(titles, bodies), np.asarray(labels, dtype=object)
    splits = grouped_splits(labels, groups, extra, folds=folds, repeats=repeats, seed=seed)
    is_extra = np.asarray(extra if extra is not None else np.zeros(len(y), bool), dtype=bool)
    results: dict[str, list[float]] = {}
    for name in names or list(CANDIDATES):
        _, make = CANDIDATES[name]
        variants = [(name, False)] + ([(f"{name}/no-extra", True)] if is_extra.any() else [])
        for label, drop_extra in variants:
            scores = []
            for train, test in splits:
                rows = train[~is_extra[train]] if drop_extra else train
                model = clone(make(len(rows))).fit(columns[rows], y[rows])
                scores.append(
                    float(f1_score(y[test], model.predict(columns[test]), average="macro"))
                )
            results[label] = scores
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
