"""Fixtures of the ticket tests: a clock the test moves and a fresh store on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from tk_helpers import Clock

from zhixiang.tickets import TicketStore, WorkCalendar


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 2, 1, 0))  # Monday 2 Nov 2026, 09:00 Beijing


@pytest.fixture
def store(tickets_url: str, clock: Clock) -> Iterator[TicketStore]:
    """A fresh store on each backend with the library's calendar (2026 known, 2027 not)."""
    store = TicketStore(tickets_url, clock=clock, calendar=WorkCalendar.default())
    store.migrate()
    yield store
    store.close()
