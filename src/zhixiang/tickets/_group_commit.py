"""Group commit: the writes awaited on one event loop go to the database together, in one transaction.

A SQLite commit costs more than the few rows an intake writes, and SQLite has one writer at a time
across all server processes: one transaction per request makes each worker wait for the lock once
per request. Here the requests that reach the loop while a write is pending join it, so a batch
forms by itself under load and stays a batch of one when requests come one at a time.

Each caller is answered only after the transaction that holds its write has committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")

#: While another writer (the other server process, a thread) holds the database, try again after
#: this many seconds, the loop serving other requests meanwhile (their writes join the batch) …
RETRY_AFTER = 0.001
#: … and after this many tries wait for the lock instead (the driver's busy timeout).
TRIES = 50


class GroupCommit(Generic[Item, Outcome]):
    """Items submitted on an event loop, written by `write(items, wait)` in batches on that loop.

    `write` runs every item of a batch in one transaction and returns one outcome per item, an
    exception for an item that failed alone; it returns None, having written nothing, when `wait`
    is false and the database is busy. An exception raised by `write` itself (the transaction
    failed) is every item's answer. A batch is everything queued when it is written, so an item
    prepared while earlier ones waited is always in their batch or a later one, never earlier.
    """

    def __init__(self, write: Callable[[Sequence[Item], bool], list[Outcome | Exception] | None]):
        self._write = write
        self._queues: dict[asyncio.AbstractEventLoop, list[tuple[Item, asyncio.Future[Outcome]]]]
        self._queues = {}

    async def submit(self, item: Item) -> Outcome:
        """Queue `item` for the next batch; its outcome once that batch has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = []
            loop.call_soon(self._flush, loop, 1)
        queue.append((item, future))
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop, attempt: int) -> None:
        queue = self._queues[loop]
        try:
            outcomes = self._write([item for item, _ in queue], attempt >= TRIES)
        except Exception as exc:  # the transaction failed: no item of it was written
            log.warning("intake batch of %d failed: %r", len(queue), exc)
            outcomes = [exc] * len(queue)
        if outcomes is None:
            loop.call_later(RETRY_AFTER, self._flush, loop, attempt + 1)
            return
        del self._queues[loop]
        for (_, future), outcome in zip(queue, outcomes, strict=True):
            if future.done():  # the caller went away; its write stands (a retry replays it)
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
