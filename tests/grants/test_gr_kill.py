"""kill -9 in the middle of proposing or approving loses no line and doubles none: each write is one
transaction, and the payable key is a UNIQUE index, so a retry after the crash finishes the job."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from zhixiang.access import Principal, PrincipalKind, Role
from zhixiang.demo import demo_policies_dir
from zhixiang.grants import GrantLedger
from zhixiang.rules import load_policies

LINES = 20_000
POLICY = "specialized-sme-award"
SCRIPT = """
import sys
from datetime import date
from decimal import Decimal
from zhixiang.access import Principal, PrincipalKind, Role
from zhixiang.demo import demo_policies_dir
from zhixiang.grants import GrantLedger
from zhixiang.rules import load_policies

url, step = sys.argv[1], sys.argv[2]
ledger = GrantLedger(url)
ledger.migrate()
if step == "propose":
    policy = load_policies([demo_policies_dir()]).by_id("specialized-sme-award")
    officer = Principal(PrincipalKind.USER, "chen", roles=frozenset({Role.POLICY_ADMIN}))
    eligible = {f"91350200MA{i:08d}": Decimal("300000") for i in range(int(sys.argv[3]))}
    print("ready", flush=True)
    ledger.propose(policy, "2026", eligible, officer, run_id="r", as_of=date(2026, 6, 30))
else:
    reviewer = Principal(PrincipalKind.USER, "liu", roles=frozenset({Role.REVIEWER}))
    print("ready", flush=True)
    ledger.approve(int(sys.argv[3]), reviewer)
print("done", flush=True)
"""
OFFICER = Principal(PrincipalKind.USER, "chen", roles=frozenset({Role.POLICY_ADMIN}))
REVIEWER = Principal(PrincipalKind.USER, "liu", roles=frozenset({Role.REVIEWER}))


def _run_and_kill(url: str, step: str, arg: int, after: float) -> bool:
    """Start the step in a child, kill -9 it `after` seconds after it is ready; True if it finished."""
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, url, step, str(arg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready", child.stderr.read() if child.stderr else ""
    time.sleep(after)
    finished = child.poll() is not None
    child.kill()
    child.wait()
    return finished


def _state(url: str) -> tuple[int, int, int, set[str], int]:
    engine = create_engine(url)
    with engine.connect() as c:
        lines = c.execute(text("SELECT count(*) FROM gr_lines")).scalar_one()
        keys = c.execute(
            text("SELECT count(DISTINCT policy_id || period || entity_id) FROM gr_lines")
        ).scalar_one()
        notices = c.execute(text("SELECT count(*) FROM gr_notices")).scalar_one()
        statuses = set(c.execute(text("SELECT DISTINCT status FROM gr_lines")).scalars())
        batches = c.execute(text("SELECT count(*) FROM gr_batches")).scalar_one()
    engine.dispose()
    return lines, keys, notices, statuses, batches


@pytest.mark.parametrize("trial", range(3))
def test_kill_during_propose_and_approve_loses_and_doubles_nothing(
    tmp_path: Path, trial: int
) -> None:
    rng = random.Random(trial)
    url = f"sqlite:///{tmp_path / 'grants.db'}"
    ledger = GrantLedger(url)
    ledger.migrate()

    _run_and_kill(url, "propose", LINES, rng.uniform(0.0, 1.5))
    lines, keys, notices, _, batches = _state(url)
    assert (lines, batches) in {(0, 0), (LINES, 1)}, "a proposal is all there or not at all"
    assert keys == lines and notices == 0
    if lines == 0:  # killed before it committed: proposing again finishes the job
        policy = load_policies([demo_policies_dir()]).by_id(POLICY)
        eligible = {f"91350200MA{i:08d}": Decimal("300000") for i in range(LINES)}
        ledger.propose(policy, "2026", eligible, OFFICER, run_id="r", as_of=date(2026, 6, 30))
    (batch,) = ledger.batches()

    _run_and_kill(url, "approve", batch.id, rng.uniform(0.0, 1.5))
    lines, keys, notices, statuses, _ = _state(url)
    assert lines == keys == LINES, "no line lost, none doubled"
    assert (sorted(statuses), notices) in [(["待确认"], 0), (["已确认"], LINES)], "atomic"
    if ledger.batch(batch.id).status == "proposed":
        ledger.approve(batch.id, REVIEWER)
    assert _state(url)[:4] == (LINES, LINES, LINES, {"已确认"})
    ledger.dispose()
