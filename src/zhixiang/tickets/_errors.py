"""The ticket service's refusals: the platform's errors (`zhixiang.errors`), plus the workflow's own."""

from __future__ import annotations

from zhixiang.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    ZhixiangError,
)

TicketsError = ZhixiangError


class TransitionRefused(Conflict):
    """The action is not allowed in the ticket's current state (409)."""


__all__ = [
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "TicketsError",
    "TransitionRefused",
    "Unauthenticated",
]
