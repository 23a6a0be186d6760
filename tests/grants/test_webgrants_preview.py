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


def test_webgrants_only_the_proposer_withdraws_and_a_reviewer_sends_back(setup) -> None:
    from test_gr_ledger import SECOND_REVIEWER

    from zhixiang.access import Principal, PrincipalKind, Role
    from zhixiang.errors import Forbidden

    ledger, results = setup
    other = Principal(PrincipalKind.USER, "qian", "钱政策", frozenset({Role.POLICY_ADMIN}))
    batch = propose_from_run(ledger, POLICIES, POLICY, "2026", OFFICER, results_dir=results).batch
    assert batch is not None
    before = ledger.counts()
    with pytest.raises(Forbidden, match="只有提出人可以撤回"):
        ledger.withdraw(batch.id, other, "不是我提的")
    assert ledger.counts() == before and ledger.batch(batch.id).status == "proposed"
    assert ledger.withdraw(batch.id, SECOND_REVIEWER, "数据日期有误，退回").status == "withdrawn"
    # a withdrawn batch was never an award: the same policy and period can be proposed again
    again = propose_from_run(ledger, POLICIES, POLICY, "2026", OFFICER, results_dir=results)
    assert again.batch is not None and again.awards == batch.lines
    assert ledger.withdraw(again.batch.id, OFFICER, "再撤一次").status == "withdrawn"
    # the proposer withdraws their own (another policy)
    mine = next(
        found.batch
        for p in POLICIES
        if p.id != POLICY and p.delivery == "直接兑现"
        for found in [
            propose_from_run(ledger, POLICIES, p.id, "2026", OFFICER, results_dir=results)
        ]
        if found.batch is not None
    )
    assert ledger.withdraw(mine.id, OFFICER, "撤回重提").status == "withdrawn"
