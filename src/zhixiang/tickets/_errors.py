"""Errors the service refuses with; each maps to one precise HTTP status at the web edge."""

from __future__ import annotations


class TicketsError(Exception):
    """A refused operation; nothing stored was changed. `field` names the offending input if any."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(TicketsError):
    """The input is malformed or outside what the rules allow (422)."""

    status = 422


class Unauthenticated(TicketsError):
    """No API key, or one that is unknown or revoked (401)."""

    status = 401


class Forbidden(TicketsError):
    """The key is valid but its scope does not cover this ticket or action (403)."""

    status = 403


class NotFound(TicketsError):
    """No such ticket, key or service (404)."""

    status = 404


class TransitionRefused(TicketsError):
    """The action is not allowed in the ticket's current state (409)."""

    status = 409
