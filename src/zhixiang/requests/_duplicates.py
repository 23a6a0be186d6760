"""并单 proposals: how alike two tickets' texts are, by character n-gram TF-IDF cosine.

Characters, not words, because citizens' Chinese is unsegmented and full of place names and typos;
the candidates are already near in place and time, so only meaning is left to compare.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

#: Long bodies repeat themselves; the head carries the complaint and keeps the comparison fast.
TEXT_HEAD = 300


def ticket_text(title: str, body: str, address: str | None) -> str:
    return f"{title} {address or ''} {body[:TEXT_HEAD]}"


def similarities(text: str, candidates: list[str]) -> list[float]:
    """Cosine similarity of `text` to each candidate, in 0..1.

    The same numbers as `TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)`
    (a test checks they agree); the weighting is done here because on a handful of short texts
    sklearn's input checks cost more than the arithmetic, and intake pays for this on every call.
    """
    if not candidates:
        return []
    counts = CountVectorizer(analyzer="char", ngram_range=(1, 2), dtype=np.float64).fit_transform(
        [text, *candidates]
    )
    # Sparse throughout: a busy community has hundreds of open tickets, and a dense
    # tickets × n-grams matrix then costs milliseconds per intake.
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1 + counts.shape[0]) / (1 + document_frequency)) + 1.0
    counts.data = (1.0 + np.log(counts.data)) * idf[counts.indices]
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    scores = (counts[1:] @ counts[0].T).toarray().ravel() / (norms[1:] * norms[0])
    return [float(x) for x in scores]


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine); good enough within a city."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))
