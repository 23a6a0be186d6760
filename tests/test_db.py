"""The operational databases' one way to migrate: server processes that start together on a fresh
SQLite file must both come up (one migrates, the other waits and finds it done)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import sqlalchemy as sa


def _open_together(url: str, barrier: Any, errors: Any) -> None:
    import alembic.command  # noqa: F401  (imported before the start, so the processes meet in migrating)

    from zhixiang.insight import open_alert_store  # its engine begins transactions deferred

    barrier.wait()
    try:
        open_alert_store(url).close()
    except Exception as exc:  # reported to the test, which names it
        errors.put(f"{type(exc).__name__}: {exc}")


def test_processes_migrating_one_fresh_sqlite_file_at_once_all_succeed(tmp_path: Path) -> None:
    spawn = multiprocessing.get_context("spawn")
    for attempt in range(3):
        url = f"sqlite:///{tmp_path / f'alerts{attempt}.db'}"
        barrier, errors = spawn.Barrier(3), spawn.Queue()
        workers = [spawn.Process(target=_open_together, args=(url, barrier, errors)) for _ in "abc"]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        failures = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
        assert failures == [] and [w.exitcode for w in workers] == [0, 0, 0]
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            objects = connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
        engine.dispose()
        assert objects and objects >= 2  # the alert tables and the version table: migrated once
