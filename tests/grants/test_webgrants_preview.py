"""A proposal's preview writes nothing and says what proposing would do; a batch's history lists
each step with who took it (the pages show both)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_gr_ledger import AS_OF, OFFICER, POLICIES, POLICY, REVIEWER, write_warehouse

from zhixiang.demo import generate_enterprises
from zhixiang.errors import NotFound
from zhixiang.grants import GrantLedger, propose_from_run
from zhixiang.matching import run_matching


@pytest.fixture
def setup(tmp_path: Path) -> tuple[GrantLedger, Path]:
    results = tmp_path / "results"
    source = write_warehouse(
        tmp_path / "w.duckdb", generate_enterprises(1500, seed=5, reference=AS_OF)
    )
    run_matching(source, POLICIES, AS_OF, results_dir=results)
    ledger = GrantLedger(f"sqlite:///{tmp_path / 'g.db'}")
    ledger.migrate()
    yield ledger, results
    ledger.dispose()


def test_webgrants_preview_writes_nothing_and_matches_the_proposal(setup) -> None:
    ledger, results = setup
    before = ledger.counts()
    seen = propose_from_run(
        ledger, POLICIES, POLICY, "2026", OFFICER, results_dir=results, preview=True
    )
    assert seen.batch is None and seen.awards > 0 and ledger.counts() == before
    assert len(seen.sample) == min(seen.awards, 50)
    assert seen.total == sum(amount for _, _, amount in seen.sample) or seen.awards > 50
    done = propose_from_run(ledger, POLICIES, POLICY, "2026", OFFICER, results_dir=results)
    assert done.batch is not None
    assert (done.awards, done.held, done.total) == (seen.awards, seen.held, seen.total)
    assert done.batch.total == seen.total

    ledger.approve(done.batch.id, REVIEWER)
    steps = ledger.history(done.batch.id)
    assert [(s.action, s.actor) for s in steps] == [
        ("propose", OFFICER.actor),
        ("approve", REVIEWER.actor),
    ]
    with pytest.raises(NotFound):
        ledger.history(done.batch.id + 99)
