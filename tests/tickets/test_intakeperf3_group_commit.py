"""Group commit of intakes (`TicketStore.intake_async`): concurrent intakes on one event loop share a
transaction, and each still gets exactly the answer `intake` gives, only after its ticket committed."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from tk_helpers import AGENT, Clock

from zhixiang.tickets import Attachment, IntakeResult, InvalidInput, TicketDraft, TicketStore
from zhixiang.tickets._tables import Ticket, TicketEvent, TicketMedia

T = TypeVar("T")


def _draft(i: int, **changes: object) -> TicketDraft:
    fields = {
        "title": f"莲花五村{i}号楼路灯不亮",
        "body": f"莲花五村{i}号楼下的路灯坏了半个月，晚上很黑，老人出行不便。",
        "category": "城乡建设",
        "region_code": "350203008003",
        "grid_id": f"SM-{i % 3}",
    }
    return TicketDraft(**{**fields, **changes})


class _Counting:
    """The writer's DB-API connections, counting commits; `fail` makes the next commit fail, and
    `refuse` makes the statement whose parameters contain it fail (as a database refusal)."""

    def __init__(self, store: TicketStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.commits = 0
        self.fail = False
        self.refuse: str | None = None
        self.error = store._writer.dialect.loaded_dbapi.OperationalError
        connect = store._writer.raw_connection
        monkeypatch.setattr(store._writer, "raw_connection", lambda: _Connection(connect(), self))


class _Connection:
    def __init__(self, raw: Any, counter: _Counting) -> None:
        self._raw, self._counter = raw, counter

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def cursor(self) -> _Cursor:
        return _Cursor(self._raw.cursor(), self._counter)

    def commit(self) -> None:
        if self._counter.fail:
            self._counter.fail = False
            raise self._counter.error("disk I/O error (injected)")
        self._raw.commit()
        self._counter.commits += 1


class _Cursor:
    def __init__(self, raw: Any, counter: _Counting) -> None:
        self._raw, self._counter = raw, counter

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def _check(self, params: Any) -> None:
        refuse = self._counter.refuse
        if refuse is not None and refuse in repr(params):
            raise self._counter.error(f"refused {refuse} (injected)")

    def execute(self, sql: str, params: Any = ()) -> Any:
        self._check(params)
        return self._raw.execute(sql, params) if params else self._raw.execute(sql)

    def executemany(self, sql: str, rows: list[Any]) -> Any:
        self._check(rows)
        return self._raw.executemany(sql, rows)


def _on_a_loop(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`asyncio.run(main())` on a thread of its own: tests/web's browser keeps a loop running on
    the main thread for the rest of the session."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def _together(store: TicketStore, calls: list[tuple[TicketDraft, str | None]]) -> list[Any]:
    """The intakes submitted concurrently on one event loop; each one's result or exception."""

    async def main() -> list[Any]:
        return await asyncio.gather(
            *(store.intake_async(AGENT, d, key) for d, key in calls), return_exceptions=True
        )

    return _on_a_loop(main)


def _count(store: TicketStore, table: Any = Ticket) -> int:
    with store.engine.connect() as conn:  # another connection: sees committed rows only
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


def test_intakeperf3_concurrent_intakes_share_one_commit_and_none_is_lost(
    store: TicketStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = _Counting(store, monkeypatch)
    drafts = [_draft(i) for i in range(40)]
    results = _together(store, [(d, f"k{i}") for i, d in enumerate(drafts)])
    assert all(isinstance(r, IntakeResult) and r.created for r in results)
    assert counter.commits == 1  # one transaction for the 40
    ids = [r.ticket.id for r in results]
    assert len(set(ids)) == 40 and _count(store) == 40 and _count(store, TicketEvent) >= 40
    for d, r in zip(drafts, results, strict=True):
        stored = store.get(AGENT, r.ticket.id)
        assert (stored.title, stored.status, r.ticket.title) == (d.title, r.ticket.status, d.title)
        assert stored.history[0].action == "intake"
    # and the same store still takes intakes one at a time
    assert store.intake(AGENT, _draft(99), "k99").created and _count(store) == 41


def test_intakeperf3_a_key_repeated_in_one_batch_makes_one_ticket(
    store: TicketStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = _Counting(store, monkeypatch)
    first, again, other, changed = _together(
        store,
        [(_draft(1), "same"), (_draft(1), "same"), (_draft(2), "other"), (_draft(3), "same")],
    )
    assert counter.commits == 1
    assert first.created and not again.created and other.created
    assert again.ticket.id == first.ticket.id and again.auto_dispatched == first.auto_dispatched
    assert isinstance(changed, InvalidInput) and "Idempotency-Key" in str(changed)
    assert _count(store) == 2
    # a later batch and a later single call replay the first ticket too
    later, single_key = _together(store, [(_draft(1), "same"), (_draft(4), "new")])
    assert not later.created and later.ticket.id == first.ticket.id and single_key.created
    assert store.intake(AGENT, _draft(1), "same").ticket.id == first.ticket.id
    assert _count(store) == 3


def test_intakeperf3_one_failing_intake_leaves_its_batch_mates_written(
    store: TicketStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = _Counting(store, monkeypatch)
    counter.refuse = "bad.jpg"  # its media insert fails after its ticket row was written

    async def main() -> list[Any]:
        jpeg = [Attachment("bad.jpg", "image/jpeg", b"\xff\xd8\xff")]
        calls = [store.intake_async(AGENT, _draft(i), f"k{i}") for i in range(3)]
        calls.insert(1, store.intake_async(AGENT, _draft(9), "bad", jpeg))
        return await asyncio.gather(*calls, return_exceptions=True)

    results = _on_a_loop(main)
    assert counter.commits == 1
    assert isinstance(results[1], counter.error) and "bad.jpg" in str(results[1])
    good = [r for i, r in enumerate(results) if i != 1]
    assert all(isinstance(r, IntakeResult) and r.created for r in good)
    assert _count(store) == 3 and _count(store, TicketMedia) == 0  # no half-written ticket
    with store.engine.connect() as conn:
        keys = set(conn.scalars(select(Ticket.idempotency_key)))
        events = conn.scalar(select(func.count()).select_from(TicketEvent))
    assert keys == {"k0", "k1", "k2"}
    assert events == sum(len(store.get(AGENT, r.ticket.id).history) for r in good)
    counter.refuse = None  # the refused request, retried, is taken
    assert store.intake(AGENT, _draft(9), "bad").created


def test_intakeperf3_no_intake_is_answered_before_its_commit(
    store: TicketStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = _Counting(store, monkeypatch)
    counter.fail = True
    results = _together(store, [(_draft(i), f"k{i}") for i in range(5)])
    assert all(isinstance(r, counter.error) for r in results), results
    assert _count(store) == 0 and counter.commits == 0
    retried = _together(store, [(_draft(i), f"k{i}") for i in range(5)])
    assert all(r.created for r in retried) and _count(store) == 5
    assert len({r.ticket.id for r in retried}) == 5


def test_intakeperf3_intakes_wait_for_another_writer_and_answer_after_commit(
    tmp_path: Path,
) -> None:
    """While another process holds SQLite's write lock, intakes queue (the loop keeps serving) and
    are answered only once they are committed."""
    store = TicketStore(f"sqlite:///{tmp_path / 't.db'}", clock=Clock(datetime(2026, 11, 2, 1)))
    store.migrate()
    other = sqlite3.connect(tmp_path / "t.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    seen: list[tuple[int, int]] = []

    async def main() -> list[IntakeResult]:
        tasks = [
            asyncio.create_task(store.intake_async(AGENT, _draft(i), f"k{i}")) for i in range(6)
        ]
        ticks = 0
        while ticks < 10:  # the loop is not blocked while the lock is held elsewhere
            await asyncio.sleep(0.002)
            ticks += 1
        assert not any(t.done() for t in tasks)
        other.execute("COMMIT")
        results = []
        for task in asyncio.as_completed(tasks):
            result = await task
            reader = sqlite3.connect(tmp_path / "t.db")
            (found,) = reader.execute(
                "SELECT count(*) FROM tickets WHERE id = ?", (result.ticket.id,)
            ).fetchone()
            reader.close()
            seen.append((result.ticket.id, found))
            results.append(result)
        return results

    try:
        results = _on_a_loop(main)
    finally:
        other.close()
        store.close()
    assert len(results) == 6 and all(found == 1 for _, found in seen)


class _Ticking(Clock):
    """A clock that moves a second per reading, so tickets have distinct times, as in service."""

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def two_stores(tickets_url: str, tmp_path: Path) -> Iterator[tuple[TicketStore, TicketStore]]:
    """One store on each backend's database, one on a SQLite file of its own: same rules."""
    stores = (
        TicketStore(tickets_url, clock=_Ticking(datetime(2026, 11, 2, 1))),
        TicketStore(f"sqlite:///{tmp_path / 'one.db'}", clock=_Ticking(datetime(2026, 11, 2, 1))),
    )
    for s in stores:
        s.migrate()
    yield stores
    for s in stores:
        s.close()


def test_intakeperf3_batch_mates_are_proposed_as_duplicates_as_one_at_a_time(
    two_stores: tuple[TicketStore, TicketStore], messages: list[tuple[str, str]]
) -> None:
    """Batches of real re-posted messages in few places propose exactly the duplicates that the
    same intakes taken one at a time propose (a batch-mate counts as written before it)."""
    batched, single = two_stores
    rng = random.Random(3)
    calls = []
    for i in range(90):
        title, body = rng.choice(messages[:12])
        calls.append(
            (
                TicketDraft(
                    title=title,
                    body=body[:1500],
                    category="城乡建设",
                    region_code=f"35020300800{rng.randint(1, 2)}",
                    grid_id=f"g{rng.randint(1, 3)}" if rng.random() < 0.5 else None,
                ),
                f"k{i}",
            )
        )
    results: list[Any] = []
    for start in range(0, 90, 30):
        results += _together(batched, calls[start : start + 30])
    expected = [single.intake(AGENT, d, key) for d, key in calls]
    found = [[(d.id, d.score) for d in r.duplicates] for r in results]
    assert found == [[(d.id, d.score) for d in r.duplicates] for r in expected]
    assert [r.ticket.duplicate_of for r in results] == [r.ticket.duplicate_of for r in expected]
    within = sum(
        any(d.id > 30 * (i // 30) for d in r.duplicates) for i, r in enumerate(results)
    )  # proposals of a batch-mate
    assert within > 20
