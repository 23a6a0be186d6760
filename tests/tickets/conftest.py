"""Fixtures of the ticket tests: a clock the test moves and a fresh store on each backend."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

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


@pytest.fixture(scope="module")
def messages(shared_data: Path) -> list[tuple[str, str]]:
    """Real 群众留言 (title, body) from the shared data, for tests that intake real texts."""
    with (shared_data / "taidi2020" / "messages_labeled.csv").open(encoding="utf-8") as f:
        return [
            ((r["留言主题"] or r["留言详情"][:20])[:200], " ".join(r["留言详情"].split()))
            for r in csv.DictReader(f)
            if r["留言详情"].strip()
        ]
