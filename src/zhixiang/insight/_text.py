"""Text vectors shared by the analyses: character n-gram TF-IDF, built in parallel for large inputs."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

_FOLD = re.compile(r"\s+")
#: Long bodies repeat themselves; the title and the head carry the complaint.
BODY_HEAD = 200
#: Columns of the hashed n-gram space: 2^20 keeps collisions rare for a city's vocabulary.
HASH_FEATURES = 2**20


def fold(text: str) -> str:
    """NFKC-fold full-width forms (Ａ３区 → A3区), lower-case, drop whitespace."""
    return _FOLD.sub("", unicodedata.normalize("NFKC", text)).lower()


def message_text(title: str, body: str) -> str:
    """What two messages are compared on: the title twice (it names the problem), then the body's head."""
    title = fold(title)
    return f"{title}|{title}|{fold(body)[:BODY_HEAD]}"


def _counts(texts: Sequence[str]) -> sp.csr_matrix:
    from sklearn.feature_extraction.text import HashingVectorizer

    vectorizer = HashingVectorizer(
        analyzer="char",
        ngram_range=(2, 3),
        n_features=HASH_FEATURES,
        alternate_sign=False,
        norm=None,
        lowercase=False,
        dtype=np.float32,
    )
    return vectorizer.transform(texts)


def tfidf_vectors(
    texts: Sequence[str], *, max_df: int | None = None, jobs: int = 1
) -> sp.csr_matrix:
    """Rows l2-normalised, sublinear tf × smooth idf; n-grams in one text only, or in more than
    `max_df` texts (too common to tell problems apart), are dropped."""
    from sklearn.preprocessing import normalize

    if jobs > 1 and len(texts) >= 20_000:
        from joblib import Parallel, delayed

        step = -(-len(texts) // jobs)
        parts = Parallel(n_jobs=jobs)(
            delayed(_counts)(texts[i : i + step]) for i in range(0, len(texts), step)
        )
        counts = sp.vstack(parts).tocsr()
    else:
        counts = _counts(texts)
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    ceiling = max_df if max_df is not None else max(200, len(texts) // 100)
    keep = np.flatnonzero((df >= 2) & (df <= ceiling))
    counts = counts[:, keep]
    idf = (np.log((1 + len(texts)) / (1 + df[keep])) + 1.0).astype(np.float32)
    counts.data = 1.0 + np.log(counts.data)
    counts = counts @ sp.diags(idf)
    if counts.shape[1] == 0:  # no n-gram shared by two texts: nothing to compare, nothing to group
        # scipy-stubs: the shape-only constructor is typed for float64 alone; float32 works
        return sp.csr_matrix((len(texts), 0), dtype=np.float32)  # type: ignore[arg-type]
    return normalize(counts.tocsr(), copy=False)


def similar_pairs(
    vectors: sp.csr_matrix, threshold: float, chunk: int = 2_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs i < j whose cosine is at least `threshold`, by blocks of rows (memory stays flat)."""
    rows, cols, sims = [], [], []
    transposed = vectors.T.tocsc()
    for start in range(0, vectors.shape[0], chunk):
        block = (vectors[start : start + chunk] @ transposed).tocoo()
        mask = (block.data >= threshold) & (block.col > block.row + start)
        rows.append(block.row[mask] + start)
        cols.append(block.col[mask])
        sims.append(block.data[mask])
    if not rows:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.float32)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(sims)
