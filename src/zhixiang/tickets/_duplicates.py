"""并单 proposals: how alike two tickets' texts are, by character n-gram TF-IDF cosine.

Characters, not words, because citizens' Chinese is unsegmented and full of place names and typos;
the candidates are already near in place and time, so only meaning is left to compare.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping

import numpy as np

_SPACES = re.compile(r"\s\s+")

#: Code points fit in 21 bits, so a 2-gram is one 42-bit integer; 1-grams carry bit 42 and so
#: never meet a 2-gram's code.
_BITS = np.int64(21)
_UNIGRAM = np.int64(1 << 42)

#: Long bodies repeat themselves; the head carries the complaint and keeps the comparison fast.
TEXT_HEAD = 300


def ticket_text(title: str, body: str, address: str | None) -> str:
    return f"{title} {address or ''} {body[:TEXT_HEAD]}"


class Vector:
    """A text's distinct character 1- and 2-grams (sorted integer codes) and their sublinear term
    frequencies 1 + log(count): everything of its TF-IDF vector that does not depend on the other
    texts. Codes, not strings, so scoring is array arithmetic."""

    __slots__ = ("codes", "tf")

    def __init__(self, text: str) -> None:
        folded = _SPACES.sub(" ", text.lower())  # sklearn's lower-casing and space folding
        raw = folded.encode("utf-32-le", "surrogatepass")
        points = np.frombuffer(raw, dtype=np.uint32).astype(np.int64)
        grams = np.concatenate((points | _UNIGRAM, (points[:-1] << _BITS) | points[1:]))
        self.codes, counts = np.unique(grams, return_counts=True)
        self.tf = np.log(counts) + 1.0


def _scores(query: Vector, docs: list[Vector]) -> list[float]:
    """Cosine of `query` to each doc under TF-IDF (smooth idf) fitted on exactly these texts.

    All texts' codes are sorted together once (a stable sort merges the already sorted runs):
    a code's run length is its document frequency, and the query's weights are spread over the
    same positions for the dot products. The numbers are sklearn's (a test holds them together).
    """
    vectors = [query, *docs]
    m = len(vectors)
    sizes = [len(v.codes) for v in vectors]
    codes = np.concatenate([v.codes for v in vectors])
    tf = np.concatenate([v.tf for v in vectors])
    n = len(codes)
    order = np.argsort(codes, kind="stable")
    ordered = codes.take(order)
    first = np.empty(n, dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = first.nonzero()[0]
    frequency = np.diff(starts, append=n)
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(first) - 1  # each position's distinct code
    idf = np.log((1 + m) / (1 + frequency)) + 1.0
    weighted = tf * (idf * idf).take(inverse)
    text = np.repeat(np.arange(m), sizes)
    norms = np.sqrt(np.bincount(text, weighted * tf, minlength=m))
    query_tf = np.zeros(len(starts))
    query_tf[inverse[: sizes[0]]] = tf[: sizes[0]]
    dots = np.bincount(text, weighted * query_tf.take(inverse), minlength=m)[1:]
    denominators = norms[1:] * norms[0]
    scores = np.divide(dots, denominators, out=np.zeros(m - 1), where=denominators > 0)
    return scores.tolist()


def similarities(text: str, candidates: list[str]) -> list[float]:
    """Cosine similarity of `text` to each candidate, in 0..1.

    The same numbers as `TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)`
    (a test checks they agree). Computed here, because intake pays for this on every call and the
    candidates are a handful of short texts: sklearn's and scipy's per-call set-up cost more than
    the arithmetic.
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
