"""kill -9 at random moments of `zhixiang match`: the previous run stays current and readable."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from zhixiang.demo import generate_enterprises
from zhixiang.matching import list_runs, open_results

AS_OF = date(2026, 6, 30)


def _match(home: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "ZHIXIANG_HOME": str(home)}
    env.pop("ZHIXIANG_WAREHOUSE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "zhixiang.cli", "match", "--as-of", str(AS_OF), "--json", *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _readable(results_dir: Path) -> tuple[str, int]:
    with open_results(results_dir) as results:
        total = sum(results.count(c.policy_id) for c in results.run.policies)
        assert total == sum(c.kept for c in results.run.policies)
        assert len(results.run.policies) == 14
        return results.run.run_id, total


@pytest.mark.slow
def test_kill_9_during_match_leaves_the_previous_run_current(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "zhixiang.duckdb")) as con:
        con.register("rows_in", generate_enterprises(30_000, seed=2, reference=AS_OF))
        con.execute("CREATE TABLE enterprise AS SELECT * FROM rows_in")
    first = _match(tmp_path)
    assert first.wait(120) == 0, first.stderr.read().decode()
    results_dir = tmp_path / "results"
    current, rows = _readable(results_dir)

    started = time.perf_counter()
    second = _match(tmp_path, "--full")
    assert second.wait(120) == 0
    duration = time.perf_counter() - started  # a whole run, start-up included
    current, rows = _readable(results_dir)

    rng = random.Random(13)
    interrupted = 0
    for _ in range(6):
        victim = _match(tmp_path, "--full")
        time.sleep(rng.uniform(0.05, duration))
        victim.send_signal(signal.SIGKILL)
        victim.wait(120)
        now, now_rows = _readable(results_dir)  # whatever happened, the current run is whole
        if now == current:
            interrupted += 1
        else:  # the signal came after the switch: the new run is published whole
            current = now
        assert now_rows == rows
    assert interrupted >= 3, "the signals must land during runs"

    rerun = _match(tmp_path)
    assert rerun.wait(120) == 0, rerun.stderr.read().decode()
    after, after_rows = _readable(results_dir)
    assert after != current and after_rows == rows  # same data, same kept rows
    assert len(list(list_runs(results_dir))) <= 4  # debris of killed runs was removed
    assert not [p for p in (results_dir / "runs").iterdir() if not (p / "manifest.json").exists()]
