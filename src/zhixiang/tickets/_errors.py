"""The ticket service's refusals: the platform's errors (`zhixiang.errors`), plus the workflow's own."""

from __future__ import annotations

from zhixiang.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    ZhixiangError,
)

TicketsError = ZhixiangError


class TransitionRefused(Conflict):
    """The action is not allowed in the ticket's current state (409)."""


class ReplySentBack(InvalidInput):
    """The reply scored below `reply_quality.send_back_below`: rewrite it before the citizen sees it."""

    def __init__(self, message: str, score: float, problems: list[str]) -> None:
        super().__init__(message, "reply")
        self.score, self.problems = score, problems


__all__ = [
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "ReplySentBack",
    "TicketsError",
    "TransitionRefused",
    "Unauthenticated",
]
