"""并单 proposals: how alike two tickets' texts are, by character n-gram TF-IDF cosine.

Characters, not words, because citizens' Chinese is unsegmented and full of place names and typos;
the candidates are already near in place and time, so only meaning is left to compare.
"""

from __future__ import annotations

import math
import operator
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping

_SPACES = re.compile(r"\s\s+")

#: Long bodies repeat themselves; the head carries the complaint and keeps the comparison fast.
TEXT_HEAD = 300


def ticket_text(title: str, body: str, address: str | None) -> str:
    return f"{title} {address or ''} {body[:TEXT_HEAD]}"


#: 1 + log(count), the sublinear term frequency, by count (grown when a longer text needs it).
_TF = [0.0] + [1.0 + math.log(c) for c in range(1, 1024)]
_TF2 = [v * v for v in _TF]


def _grow(n: int) -> None:
    _TF.extend(1.0 + math.log(c) for c in range(len(_TF), n + 1))
    _TF2.extend(v * v for v in _TF[len(_TF2) :])


class Vector:
    """A text's character 1- and 2-gram counts and the sum of squares of their sublinear term
    frequencies (1 + log count): everything of its TF-IDF vector that does not depend on the other
    texts. Frequencies are looked up by count when scoring, only for the grams texts share."""

    __slots__ = ("counts", "squares")

    def __init__(self, text: str) -> None:
        folded = _SPACES.sub(" ", text.lower())  # sklearn's lower-casing and space folding
        if len(folded) >= len(_TF):
            _grow(len(folded))
        counts = Counter(folded)
        counts.update(map(operator.add, folded, folded[1:]))
        self.counts: dict[str, int] = counts
        self.squares = sum(map(_TF2.__getitem__, counts.values()))


def _scores(query: Vector, docs: list[Vector]) -> list[float]:
    """Cosine of `query` to each doc under TF-IDF (smooth idf) fitted on exactly these texts.

    A gram found in one text only has the same idf `lone` everywhere, so each norm is `lone²` times
    the text's cached sum of squares, corrected for the few grams texts share; only shared grams are
    visited. The numbers are sklearn's (a test holds them together).
    """
    frequency: Counter[str] = Counter(query.counts.keys())
    for doc in docs:
        frequency.update(doc.counts.keys())
    n = 2 + len(docs)
    log = math.log
    lone = log(n / 2) + 1.0
    by_count = [0.0, 0.0] + [(log(n / (1 + k)) + 1.0) ** 2 for k in range(2, n)]  # idf² by k
    idf2 = {g: by_count[k] for g, k in frequency.items() if k > 1}
    lone2 = lone * lone
    shared = idf2.keys()
    tf, tf2 = _TF, _TF2

    def norm(v: Vector) -> float:
        c = v.counts
        extra = sum(tf2[c[g]] * (idf2[g] - lone2) for g in c.keys() & shared)
        return math.sqrt(lone2 * v.squares + extra)

    query_norm = norm(query)
    q = query.counts
    scores = []
    for doc in docs:
        doc_norm = norm(doc)
        if not (doc_norm and query_norm):
            scores.append(0.0)
            continue
        d = doc.counts
        dot = sum(tf[q[g]] * tf[d[g]] * idf2[g] for g in q.keys() & d.keys())
        scores.append(dot / (query_norm * doc_norm))
    return scores


def similarities(text: str, candidates: list[str]) -> list[float]:
    """Cosine similarity of `text` to each candidate, in 0..1.

    The same numbers as `TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)`
    (a test checks they agree). Plain dictionaries, because intake pays for this on every call and
    the candidates are a handful of short texts: sklearn's and scipy's per-call set-up cost more
    than the arithmetic.
    """
    if not candidates:
        return []
    return _scores(Vector(text), [Vector(t) for t in candidates])


class NgramIndex:
    """Cached n-gram vectors of open tickets, so intake computes only the new ticket's vector.

    A ticket's text never changes after intake, so an entry never goes stale; the least recently
    used entries are dropped beyond `capacity`. Each server process keeps its own index and fills
    it from the database for candidates it has not seen (tickets taken in by other workers).
    Scores are exactly those of `similarities` (a test holds them together).
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._vectors: OrderedDict[int, Vector] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def add(self, ticket_id: int, text: str | Vector) -> Vector:
        vector = text if isinstance(text, Vector) else Vector(text)
        with self._lock:
            self._vectors[ticket_id] = vector
            if len(self._vectors) > self.capacity:
                self._vectors.popitem(last=False)
        return vector

    def scores(
        self,
        text: str | Vector,
        ids: list[int],
        fetch: Callable[[list[int]], dict[int, str]],
        unwritten: Mapping[int, Vector] | None = None,
    ) -> list[float]:
        """Similarity of `text` to each ticket in `ids`; `fetch` supplies texts not yet indexed.

        `unwritten` are vectors of tickets not committed yet, used but not cached: a rolled-back
        ticket's id may be given to another ticket.
        """
        if not ids:
            return []
        found: dict[int, Vector] = dict(unwritten or {})
        with self._lock:
            for i in ids:
                vector = None if i in found else self._vectors.get(i)
                if vector is not None:
                    self._vectors.move_to_end(i)
                    found[i] = vector
        lacking = [i for i in ids if i not in found]
        if lacking:
            for ticket_id, candidate in fetch(lacking).items():
                found[ticket_id] = self.add(ticket_id, candidate)
        query = text if isinstance(text, Vector) else Vector(text)
        return _scores(query, [found.get(i) or Vector("") for i in ids])


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine); good enough within a city."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))
