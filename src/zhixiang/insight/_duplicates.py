"""Tuning the 并单 (duplicate proposal) threshold on real re-posted messages.

The message board has no merge log, so the truth is built from what a reporter's own behaviour
shows: a **re-post** is a second message by the same 留言用户 within the duplicate window whose
title says the same thing (character-bigram overlap of the titles ≥ `same_title`); a **distinct**
pair is two messages by different people within the window that name no place in common. Pairs
by different people about a common place are left out (they may be one matter reported twice,
which is what 并单 is for, or two matters at one estate: only a person can tell). Scores come from
the ticket store's own similarity function (`zhixiang.tickets.similarities`), so the threshold
found here is the one to set in the tickets rules file (`duplicates.threshold`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from zhixiang.insight._messages import Message
from zhixiang.insight._places import build_index
from zhixiang.insight._text import fold


@dataclass(frozen=True)
class ThresholdPoint:
    threshold: float
    precision: float
    recall: float
    proposals: int

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class DuplicateStudy:
    positives: int
    negatives: int
    curve: list[ThresholdPoint]

    def best(self) -> ThresholdPoint:
        return max(self.curve, key=lambda p: (p.f1, p.threshold))


def _title_overlap(a: str, b: str) -> float:
    x, y = fold(a), fold(b)
    ga = {x[i : i + 2] for i in range(len(x) - 1)}
    gb = {y[i : i + 2] for i in range(len(y) - 1)}
    return len(ga & gb) / len(ga | gb) if ga and gb else 0.0


def labelled_pairs(
    messages: Sequence[Message], window_hours: float = 72, same_title: float = 0.3
) -> tuple[list[tuple[int, int]], list[bool]]:
    """Pairs (earlier, later) within the window with their truth, by the rules in the docstring."""
    times = {i: m.time for i, m in enumerate(messages) if m.time is not None}
    timed = sorted(times, key=times.__getitem__)
    index = build_index(f"{m.title} {m.body[:200]}" for m in messages)
    places = [set(index.places(f"{m.title} {m.body[:200]}")) for m in messages]
    window = timedelta(hours=window_hours)
    pairs, truth = [], []
    start = 0
    for k, j in enumerate(timed):
        later = messages[j]
        while times[timed[start]] < times[j] - window:
            start += 1
        for i in timed[start:k]:
            earlier = messages[i]
            if earlier.user and earlier.user == later.user:
                if _title_overlap(earlier.title, later.title) >= same_title:
                    pairs.append((i, j))
                    truth.append(True)
            elif not places[i] & places[j]:
                pairs.append((i, j))
                truth.append(False)
    return pairs, truth


def study_threshold(
    messages: Sequence[Message],
    thresholds: Sequence[float] = tuple(np.round(np.arange(0.1, 0.91, 0.05), 2)),
    window_hours: float = 72,
) -> DuplicateStudy:
    """Precision and recall of proposals at each threshold, scored by the tickets package."""
    from zhixiang.tickets import similarities

    pairs, truth = labelled_pairs(messages, window_hours)
    by_later: dict[int, list[int]] = {}
    for k, (_, j) in enumerate(pairs):
        by_later.setdefault(j, []).append(k)
    scores = np.zeros(len(pairs))
    for j, ks in by_later.items():
        later = messages[j]
        texts = [_ticket_text(messages[pairs[k][0]]) for k in ks]
        scores[ks] = similarities(_ticket_text(later), texts)
    labels = np.asarray(truth, dtype=bool)
    curve = []
    for t in thresholds:
        proposed = scores >= t
        hits = int((proposed & labels).sum())
        curve.append(
            ThresholdPoint(
                float(t),
                hits / int(proposed.sum()) if proposed.any() else 1.0,
                hits / int(labels.sum()) if labels.any() else 0.0,
                int(proposed.sum()),
            )
        )
    return DuplicateStudy(int(labels.sum()), int((~labels).sum()), curve)


def _ticket_text(message: Message) -> str:
    """What the ticket store compares: title, (no address here), the body's first 300 characters."""
    return f"{message.title}  {message.body[:300]}"
