"""The complaint classifier: train, predict with calibrated confidences, save and load."""

from __future__ import annotations

import hashlib
import json
import platform
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from zhixiang.classify._features import char_ngrams, gram_codes, normalise, term_code

MODEL_FORMAT = 1
#: Tags a body n-gram's code in the classifier's joint lookup; gram codes use 63 bits at most.
_BODY = np.uint64(1 << 63)
#: Sublinear term frequency 1 + log(count) for the counts a message has, looked up, not computed.
with np.errstate(divide="ignore"):
    _TF = 1.0 + np.log(np.arange(4096, dtype=np.float64))
SHIPPED_MODEL = Path(__file__).with_name("classifier-v2.joblib")
CALIBRATION_FOLDS = 5
MIN_EXAMPLES_PER_CLASS = 2
#: n-grams kept per text field (most frequent first): 8,000 training messages have 510,000 distinct
#: body n-grams, most seen in two or three; the top 100,000 keep the file small and lookups fast.
MAX_TERMS = 100_000
MODEL_DESCRIPTION = (
    "字符 1–3 元 TF-IDF（留言主题、留言详情各一组特征，各取最常见的 10 万个）+ LinearSVC(C=1, class_weight=balanced)，"
    "置信度用交叉验证决策值上拟合的温度缩放校准"
)


@dataclass(frozen=True)
class Prediction:
    """One message's predicted 一级分类 and the calibrated probability that it is right."""

    category: str
    confidence: float


def build_pipeline(n_examples: int) -> Pipeline:
    """The model the shipped classifier is built from; CV and training share this one definition.

    Title and body get separate vocabularies because the short 留言主题 carries most of the signal
    and would be drowned in a long 留言详情 if concatenated (CV macro-F1 0.78 → 0.81, docs/classify.md).
    """
    min_df = 2 if n_examples >= 100 else 1  # on tiny sets hapax pruning would empty the vocabulary
    features = ColumnTransformer(
        [
            ("title", char_ngrams(min_df, MAX_TERMS), 0),
            ("body", char_ngrams(min_df, MAX_TERMS), 1),
        ]
    )
    svm = LinearSVC(C=1.0, class_weight="balanced", random_state=0)
    return Pipeline([("features", features), ("svm", svm)])


def as_columns(titles: Sequence[str | None], bodies: Sequence[str | None]) -> np.ndarray:
    """Two text columns (title, body) in the shape `build_pipeline` expects."""
    if len(titles) != len(bodies):
        raise ValueError(f"标题 {len(titles)} 条而正文 {len(bodies)} 条：两者必须一一对应")
    rows = np.empty((len(titles), 2), dtype=object)
    rows[:, 0] = [t or "" for t in titles]
    rows[:, 1] = [b or "" for b in bodies]
    return rows


class TextField:
    """One text field's learned state: its n-gram vocabulary, idf weights and per-class weights.

    Features are recomputed here rather than with sklearn's `transform`, whose per-call validation
    costs more than the arithmetic for one message; `char_ngrams` defines what this must match, and
    the tests check both agree. Plain arrays also keep saved files free of pickled sklearn objects.
    """

    def __init__(self, terms: Sequence[str], idf: np.ndarray, weights: np.ndarray) -> None:
        self.terms = list(terms)
        # float32 precision (as saved) so a model predicts the same before and after a save/load
        self.idf = np.asarray(idf, dtype=np.float32).astype(np.float64)
        self.weights = np.ascontiguousarray(weights, dtype=np.float32).astype(np.float64)
        codes = np.fromiter(map(term_code, self.terms), np.uint64, len(self.terms))
        self._order = np.argsort(codes, kind="stable")
        self._codes = codes[self._order]

    @classmethod
    def from_vectorizer(cls, vectorizer: TfidfVectorizer, weights: np.ndarray) -> TextField:
        expected = {"analyzer": "char", "ngram_range": (1, 3), "sublinear_tf": True, "norm": "l2"}
        actual = {k: vectorizer.get_params()[k] for k in expected}
        if actual != expected or vectorizer.preprocessor is not normalise:
            raise ValueError(f"推理只实现了 {expected} 的字符特征，训练用的是 {actual}")
        terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
        return cls(terms, vectorizer.idf_, weights)

    def scores(self, text: str) -> np.ndarray:
        """Class scores contributed by one text: l2-normalised (1 + log tf)·idf, dotted with weights."""
        grams, counts = np.unique(gram_codes(normalise(text)), return_counts=True)
        if not len(self._codes) or not len(grams):
            return np.zeros(self.weights.shape[1])
        at = np.minimum(np.searchsorted(self._codes, grams), len(self._codes) - 1)
        known = self._codes[at] == grams
        if not known.any():
            return np.zeros(self.weights.shape[1])
        ids = self._order[at[known]]
        values = (1.0 + np.log(counts[known])) * self.idf[ids]
        return (values @ self.weights[ids]) / np.sqrt(values @ values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "terms": self.terms,
            "idf": self.idf.astype(np.float32),
            "weights": self.weights.astype(np.float32),
        }


class GramIndex:
    """Where each n-gram code sits in a sorted vocabulary, found by hashing instead of bisection.

    Intake classifies one message per call, and bisecting the shipped model's 105,000 codes for
    each of a message's ~850 grams was a third of that call: each gram is one multiply-shift and
    one gather here. A code is kept in the slot its hash names; the few whose slot another code
    took (one in eleven for the shipped model) stay in a small sorted array that only the misses
    search. A code not in the vocabulary gets `missing`, the position of an all-zero row the
    caller appends to its per-position data.
    """

    #: Fibonacci hashing: the top bits of code × 2^64/φ spread neighbouring codes over the table.
    _MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
    #: No 1–3-gram has this code (its first character would be above U+10FFFF): marks empty slots.
    _EMPTY = np.uint64(2**64 - 1)

    def __init__(self, codes: np.ndarray) -> None:
        bits = max(len(codes).bit_length() + 2, 10)  # at most a quarter of the slots in use
        self._shift = np.uint64(64 - bits)
        self.missing = len(codes)
        home = (codes * self._MULTIPLIER) >> self._shift
        slots, first = np.unique(home, return_index=True)
        # one row per slot, code then position, so a lookup reads one cache line per gram
        self._slots = np.empty((1 << bits, 2), np.uint64)
        self._slots[:, 0] = self._EMPTY
        self._slots[:, 1] = self.missing
        self._slots[slots, 0] = codes[first]
        self._slots[slots, 1] = first
        spilled = np.ones(len(codes), bool)
        spilled[first] = False
        self._spilled = np.flatnonzero(spilled).astype(np.uint64)  # ascending, as codes are
        self._spilled_codes = codes[self._spilled]

    def positions(self, codes: np.ndarray) -> np.ndarray:
        """Each code's position in the vocabulary, or `missing`."""
        found = self._slots.take((codes * self._MULTIPLIER) >> self._shift, axis=0)
        positions = found[:, 1]
        misses = (found[:, 0] != codes).nonzero()[0]
        if len(misses) and len(self._spilled):
            wanted = codes.take(misses)
            at = self._spilled_codes.searchsorted(wanted)
            np.minimum(at, len(self._spilled) - 1, out=at)
            known = self._spilled_codes.take(at) == wanted
            positions[misses] = np.where(known, self._spilled.take(at), self.missing)
        else:
            positions[misses] = self.missing
        return positions


class Classifier:
    """A fitted classifier in inference form: two text fields, one intercept, one temperature."""

    def __init__(
        self,
        *,
        labels: Sequence[str],
        title: TextField,
        body: TextField,
        intercept: np.ndarray,
        temperature: float,
        metadata: dict[str, Any],
    ) -> None:
        self.labels: tuple[str, ...] = tuple(labels)
        self._title = title
        self._body = body
        self._intercept = np.asarray(intercept, dtype=np.float64)
        self._temperature = float(temperature)
        self.metadata: dict[str, Any] = metadata
        # Both fields in one lookup (body codes tagged with the free 64th bit), so a message
        # costs one unique/lookup/gather/matmul instead of one per field.
        self._index = GramIndex(np.concatenate([title._codes, body._codes | _BODY]))
        order = np.concatenate([title._order, body._order + len(title.terms)])
        # One float32 row per n-gram in code order, its idf first and then its class weights (the
        # saved numbers are float32, so widening them again while scoring gives exactly the
        # float64 results), and last an all-zero row for grams outside the vocabulary.
        rows = np.column_stack(
            [np.concatenate([title.idf, body.idf]), np.concatenate([title.weights, body.weights])]
        )
        self._rows = np.vstack([rows[order], np.zeros((1, rows.shape[1]))]).astype(np.float32)

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    def probabilities(
        self, titles: Sequence[str | None], bodies: Sequence[str | None]
    ) -> np.ndarray:
        """Calibrated class probabilities, one row per message, columns in `labels` order."""
        if len(titles) != len(bodies):
            raise ValueError(f"标题 {len(titles)} 条而正文 {len(bodies)} 条：两者必须一一对应")
        scores = np.empty((len(titles), len(self.labels)))
        for row, (title, body) in enumerate(zip(titles, bodies, strict=True)):
            scores[row] = self._scores(title or "", body or "")
        return self._calibrated(scores)

    def _calibrated(self, scores: np.ndarray) -> np.ndarray:
        """scipy's softmax of the temperature-scaled scores (last axis), in place, without its checks."""
        scores += self._intercept
        scores /= self._temperature
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        return scores

    def _scores(self, title: str, body: str) -> np.ndarray:
        """`title`'s and `body`'s `TextField.scores` summed, in one pass over both fields' grams.

        Grams outside the vocabulary gather the zero row and add nothing; `take` rather than
        fancy indexing skips the general indexing machinery, which costs more than the copying.
        """
        codes = np.concatenate((gram_codes(normalise(title)), gram_codes(normalise(body)) | _BODY))
        n = len(codes)
        if not n:
            return np.zeros(len(self.labels))
        codes.sort()  # each distinct gram once, with its count
        first = np.empty(n, bool)
        first[0] = True
        np.not_equal(codes[1:], codes[:-1], out=first[1:])
        starts = first.nonzero()[0]
        counts = np.empty_like(starts)
        counts[:-1] = starts[1:]
        counts[-1] = n
        counts -= starts
        codes = codes.take(starts)
        rows = self._rows.take(self._index.positions(codes), axis=0).astype(np.float64)
        tf = _TF.take(counts) if n < len(_TF) else 1.0 + np.log(counts)
        values = tf * rows[:, 0]
        split = int(codes.searchsorted(_BODY))  # title grams first, then the body's
        for part in (values[:split], values[split:]):
            norm = part @ part
            if norm:
                part /= np.sqrt(norm)  # each field l2-normalised on its own
        return values @ rows[:, 1:]

    def predict(
        self, titles: Sequence[str | None], bodies: Sequence[str | None]
    ) -> list[Prediction]:
        """The most probable 一级分类 of each message with its calibrated probability."""
        if len(titles) == 1 == len(bodies):  # intake: one message, no batch array to fill
            proba = self._calibrated(self._scores(titles[0] or "", bodies[0] or ""))
            best = int(proba.argmax())
            return [Prediction(category=self.labels[best], confidence=float(proba[best]))]
        proba = self.probabilities(titles, bodies)
        best = proba.argmax(axis=1)
        return [
            Prediction(category=self.labels[i], confidence=float(proba[row, i]))
            for row, i in enumerate(best)
        ]

    def save(self, path: Path) -> None:
        """Write the model (joblib of plain arrays) and, beside it, its metadata as JSON for people."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": MODEL_FORMAT,
            "labels": list(self.labels),
            "title": self._title.to_dict(),
            "body": self._body.to_dict(),
            "intercept": self._intercept,
            "temperature": self._temperature,
            "metadata": self.metadata,
        }
        joblib.dump(payload, path, compress=3)
        path.with_suffix(".json").write_text(
            json.dumps(self.metadata, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )

    def __repr__(self) -> str:
        return f"Classifier(version={self.version!r}, labels={list(self.labels)!r})"


def train_model(
    titles: Sequence[str | None],
    bodies: Sequence[str | None],
    labels: Sequence[str],
    *,
    source: str = "调用方提供的数据",
    evaluation: dict[str, Any] | None = None,
) -> Classifier:
    """Fit the classifier and calibrate its confidences on out-of-fold decision scores.

    `source` and `evaluation` (cross-validated figures, if the caller computed them) go into the
    model's metadata so a saved file says what it was trained on and how good it was.
    """
    columns = as_columns(titles, bodies)
    if len(labels) != len(columns):
        raise ValueError(f"{len(columns)} 条留言却有 {len(labels)} 个类别标签：两者必须一一对应")
    counts = Counter(labels)
    if len(counts) < 2:
        raise ValueError(f"训练至少需要 2 个类别，实际只有 {sorted(counts)}")
    rare = sorted(label for label, n in counts.items() if n < MIN_EXAMPLES_PER_CLASS)
    if rare:
        raise ValueError(
            f"这些类别的样本少于 {MIN_EXAMPLES_PER_CLASS} 条，无法校准置信度：{rare}；请补充样本或去掉这些类别"
        )
    y = np.asarray(labels, dtype=object)
    pipeline = build_pipeline(len(y))
    folds = min(CALIBRATION_FOLDS, min(counts.values()))
    out_of_fold = cross_val_predict(
        pipeline,
        columns,
        y,
        cv=StratifiedKFold(folds, shuffle=True, random_state=0),
        method="decision_function",
    )
    pipeline.fit(columns, y)
    classes = [str(c) for c in pipeline.classes_]
    truth = np.searchsorted(pipeline.classes_, y)
    temperature = _fit_temperature(_two_columns(out_of_fold), truth)

    features: ColumnTransformer = pipeline.named_steps["features"]
    svm: LinearSVC = pipeline.named_steps["svm"]
    weights, intercept = svm.coef_, svm.intercept_
    if (
        len(classes) == 2
    ):  # LinearSVC keeps one row for two classes; score = [0, s] gives the same softmax
        weights = np.vstack([np.zeros_like(weights), weights])
        intercept = np.array([0.0, intercept[0]])
    digest = _data_digest(columns, y)
    created = datetime.now(UTC)
    metadata = {
        "format": MODEL_FORMAT,
        "version": f"charsvm-{created:%Y%m%d}-{digest[:8]}",
        "created": created.isoformat(timespec="seconds"),
        "model": MODEL_DESCRIPTION,
        "labels": classes,
        "training_data": {
            "source": source,
            "messages": len(y),
            "sha256": digest,
            "class_counts": {c: counts[c] for c in classes},
        },
        "calibration": {"method": "temperature", "temperature": temperature, "folds": folds},
        "evaluation": evaluation,
        "libraries": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
        },
    }
    title_vectorizer = features.named_transformers_["title"]
    n_title = len(title_vectorizer.vocabulary_)
    return Classifier(
        labels=classes,
        title=TextField.from_vectorizer(title_vectorizer, weights[:, :n_title].T),
        body=TextField.from_vectorizer(
            features.named_transformers_["body"], weights[:, n_title:].T
        ),
        intercept=intercept,
        temperature=temperature,
        metadata=metadata,
    )


def load_model(path: Path | None = None) -> Classifier:
    """Load a saved classifier; without a path, the one shipped inside the package.

    A model file is a joblib pickle (of plain arrays): load only files you or this project wrote.
    """
    path = Path(path) if path is not None else SHIPPED_MODEL
    if not path.is_file():
        raise FileNotFoundError(f"{path}: 分类模型文件不存在")
    try:
        payload = joblib.load(path)
    except Exception as exc:
        raise ValueError(
            f"{path}: 不是可读取的分类模型文件（{type(exc).__name__}: {exc}）"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"{path}: 模型格式应为 {MODEL_FORMAT}，实际为 {found!r}")
    try:
        return Classifier(
            labels=payload["labels"],
            title=TextField(**payload["title"]),
            body=TextField(**payload["body"]),
            intercept=payload["intercept"],
            temperature=payload["temperature"],
            metadata=payload["metadata"],
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: 模型文件不完整（{type(exc).__name__}: {exc}）") from exc


def _two_columns(scores: np.ndarray) -> np.ndarray:
    return np.column_stack([np.zeros_like(scores), scores]) if scores.ndim == 1 else scores


def _fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """Temperature scaling keeps the arg-max (so accuracy is unchanged) and fixes over/under-confidence."""

    def nll(log_t: float) -> float:
        return float(
            -log_softmax(scores / np.exp(log_t), axis=1)[np.arange(len(truth)), truth].mean()
        )

    result = minimize_scalar(nll, bounds=(-6.0, 4.0), method="bounded")
    return float(np.exp(result.x))


def _data_digest(columns: np.ndarray, labels: np.ndarray) -> str:
    digest = hashlib.sha256()
    for (title, body), label in zip(columns, labels, strict=True):
        digest.update("\x1f".join([title, body, str(label)]).encode() + b"\x1e")
    return digest.hexdigest()
