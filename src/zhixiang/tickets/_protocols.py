"""What the ticket capability needs from models it cannot import: a classifier and a reply scorer.

Both are injected into the store (`TicketStore(classifier=..., reply_scorer=...)`) by whoever builds
it; without them the store still works, safely: unclassified tickets wait for a person, replies are
not scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol


class Prediction(Protocol):
    # read-only: `zhixiang.classify.Prediction` is a frozen dataclass
    @property
    def category(self) -> str: ...
    @property
    def confidence(self) -> float: ...


class Classifier(Protocol):
    """What the service needs from `zhixiang.classify`: predictions and a version to record."""

    @property
    def version(self) -> str: ...

    def predict(self, titles: list[str], bodies: list[str]) -> Sequence[Prediction]: ...


class ScoredReply(Protocol):
    """A reply's score: `total` in 0..1 (higher is better) and the problems found, in Chinese."""

    # read-only: `zhixiang.insight.ReplyScore` is a frozen dataclass
    @property
    def total(self) -> float: ...
    @property
    def problems(self) -> Sequence[str]: ...


class ReplyScorer(Protocol):
    """Scores a department's reply (答复意见) to a citizen before it is accepted (办结).

    When the store is given one, every 办结 calls `score` with the ticket's title and text, the reply,
    and when the ticket was received and answered (naive UTC). The store keeps `total` and
    `problems` on the ticket (`reply_score`, `reply_problems`). If `rules.yaml` sets
    `reply_quality.send_back_below`, a reply scoring below it is refused (`ReplySentBack`, 422,
    listing the problems) and the department writes a better one: the citizen never sees it.

    `zhixiang.insight.ReplyScorer` satisfies this; it is injected by the edges (API start-up, CLI),
    because tickets (layer 3) cannot import insight (layer 4). A scorer that raises is logged and
    ignored: a broken scorer must not stop departments from answering.
    """

    def score(
        self,
        title: str,
        body: str,
        reply: str,
        asked_at: datetime | None = None,
        replied_at: datetime | None = None,
    ) -> ScoredReply: ...
