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
from collections.abc import Callable

_SPACES = re.compile(r"\s\s+")

#: Long bodies repeat themselves; the head carries the complaint and keeps the comparison fast.
TEXT_HEAD = 300


def ticket_text(title: str, body: str, address: str | None) -> str:
    return f"{title} {address or ''} {body[:TEXT_HEAD]}"


def _ngram_counts(text: str) -> Counter[str]:
    """Character 1- and 2-grams, after the same lower-casing and space folding as sklearn's analyzer."""
    folded = _SPACES.sub(" ", text.lower())
    counts = Counter(folded)
    counts.update(map(operator.add, folded, folded[1:]))
    return counts


def _scores(docs: list[Counter[str]]) -> list[float]:
    """Cosine of docs[0] to each later doc under TF-IDF fitted on exactly these docs (as sklearn)."""
    frequency: Counter[str] = Counter()
    for doc in docs:
        frequency.update(doc.keys())
    n = 1 + len(docs)
    idf = {g: math.log(n / (1 + k)) + 1.0 for g, k in frequency.items()}
    weights = [{g: (1.0 + math.log(c)) * idf[g] for g, c in doc.items()} for doc in docs]
    norms = [math.sqrt(sum(v * v for v in w.values())) for w in weights]
    query = weights[0]
    return [
        sum(v * query.get(g, 0.0) for g, v in w.items()) / (norm * norms[0])
        if norm and norms[0]
        else 0.0
        for w, norm in zip(weights[1:], norms[1:], strict=True)
    ]


def similarities(text: str, candidates: list[str]) -> list[float]:
    """Cosine similarity of `text` to each candidate, in 0..1.

    The same numbers as `TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)`
    (a test checks they agree). Plain dictionaries, because intake pays for this on every call and
    the candidates are a handful of short texts: sklearn's and scipy's per-call set-up cost more
    than the arithmetic.
    """
    if not candidates:
        return []
    return _scores([_ngram_counts(t) for t in (text, *candidates)])


class NgramIndex:
    """Cached n-gram counts of open tickets, so intake counts only the new ticket's text.

    A ticket's text never changes after intake, so an entry never goes stale; the least recently
    used entries are dropped beyond `capacity`. Each server process keeps its own index and fills
    it from the database for candidates it has not seen (tickets taken in by other workers).
    Scores are exactly those of `similarities` (a test holds them together).
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._counts: OrderedDict[int, Counter[str]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._counts)

    def add(self, ticket_id: int, text: str) -> Counter[str]:
        counts = _ngram_counts(text)
        with self._lock:
            self._counts[ticket_id] = counts
            if len(self._counts) > self.capacity:
                self._counts.popitem(last=False)
        return counts

    def scores(
        self, text: str, ids: list[int], fetch: Callable[[list[int]], dict[int, str]]
    ) -> list[float]:
        """Similarity of `text` to each ticket in `ids`; `fetch` supplies texts not yet indexed."""
        if not ids:
            return []
        found: dict[int, Counter[str]] = {}
        with self._lock:
            for i in ids:
                counts = self._counts.get(i)
                if counts is not None:
                    self._counts.move_to_end(i)
                    found[i] = counts
        lacking = [i for i in ids if i not in found]
        if lacking:
            for ticket_id, candidate in fetch(lacking).items():
                found[ticket_id] = self.add(ticket_id, candidate)
        docs = [found.get(i, Counter()) for i in ids]
        return _scores([_ngram_counts(text), *docs])


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine); good enough within a city."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))
