"""One error hierarchy for the whole platform: each error knows its HTTP status and its exit code.

A capability raises these (or its own subclasses of them) when it refuses something; the API turns
them into the status below with a JSON body `{"detail": ..., "field": ...}`, the CLI prints the
message and exits with the code below. Nothing stored is changed by a refused operation.
"""

from __future__ import annotations


class ZhixiangError(Exception):
    """A refused operation; `field` names the offending input (a form field, a column, a key)."""

    status = 400
    exit_code = 2

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class InvalidInput(ZhixiangError):
    """The input is malformed or outside what the rules allow."""

    status = 422


class Unauthenticated(ZhixiangError):
    """No credentials, or credentials that are unknown, expired or revoked."""

    status = 401
    exit_code = 77


class Forbidden(ZhixiangError):
    """The caller is known but its role, department or grant does not allow this."""

    status = 403
    exit_code = 77


class NotFound(ZhixiangError):
    """No such thing (ticket, entity, policy, user, key …)."""

    status = 404
    exit_code = 4


class Conflict(ZhixiangError):
    """The thing is not in a state that allows this (a workflow step, a second approval …)."""

    status = 409
    exit_code = 5


class PayloadTooLarge(ZhixiangError):
    """The request or file is larger than the configured limit."""

    status = 413


class RetryLater(ZhixiangError):
    """Refused for now; `retry_after` seconds later it may succeed (throttling, a busy resource)."""

    status = 503
    exit_code = 75

    def __init__(self, message: str, retry_after: int = 5, field: str | None = None) -> None:
        super().__init__(message, field)
        self.retry_after = retry_after


class TooManyRequests(RetryLater):
    """The caller tried too often (e.g. failed logins); wait `retry_after` seconds."""

    status = 429


class Unavailable(RetryLater):
    """A resource is busy or down (the warehouse is being rebuilt, the database does not answer)."""

    status = 503


__all__ = [
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "RetryLater",
    "TooManyRequests",
    "Unauthenticated",
    "Unavailable",
    "ZhixiangError",
]
