"""并单 proposals: how alike two tickets' texts are, by character n-gram TF-IDF cosine.

Characters, not words, because citizens' Chinese is unsegmented and full of place names and typos;
the candidates are already near in place and time, so only meaning is left to compare.
"""

from __future__ import annotations

import math

import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

#: Long bodies repeat themselves; the head carries the complaint and keeps the comparison fast.
TEXT_HEAD = 300


def ticket_text(title: str, body: str, address: str | None) -> str:
    return f"{title} {address or ''} {body[:TEXT_HEAD]}"


def similarities(text: str, candidates: list[str]) -> list[float]:
    """Cosine similarity of `text` to each candidate, in 0..1."""
    if not candidates:
        return []
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
    # Inputs are plain strings we built; sklearn's checks cost more than the maths at this size.
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        matrix = vectorizer.fit_transform([text, *candidates])
        return [float(x) for x in linear_kernel(matrix[0:1], matrix[1:]).ravel()]


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine); good enough within a city."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))
