"""The ledger's bulk path (a batch of tens of thousands of lines): loaded without Python per row,
indexes built after the load, and still never paying twice; the batch views' counts are real; a
rerun writes nothing; a changed amount is a reversal, not an edit. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from zhixiang.access import Principal, PrincipalKind, Role
from zhixiang.demo import demo_policies_dir
from zhixiang.grants import GrantLedger
from zhixiang.grants._ledger import _FEW_AMOUNTS, _INDEXES_LATER_FROM
from zhixiang.rules import load_policies

POLICIES = load_policies([demo_policies_dir()])
DIRECT = POLICIES.by_id("specialized-sme-award")
OFFICER = Principal(PrincipalKind.USER, "chen", roles=frozenset({Role.POLICY_ADMIN}))
REVIEWER = Principal(PrincipalKind.USER, "liu", roles=frozenset({Role.REVIEWER}))
AS_OF = date(2026, 6, 30)
N = _INDEXES_LATER_FROM + 500  # over the threshold: the bulk path with indexes built after


def codes(n: int, prefix: str = "91350200MA") -> list[str]:
    # not in key order, so the load must sort
    return [f"{prefix}{(i * 7919) % n:08d}" for i in range(n)]


def indexes(ledger: GrantLedger) -> set[tuple[str, str]]:
    with ledger.engine.connect() as c:
        if ledger.postgres:
            rows = c.execute(
                text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN"
                    " ('gr_lines', 'gr_notices') AND schemaname = current_schema()"
                )
            )
        else:
            rows = c.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                    " AND tbl_name IN ('gr_lines', 'gr_notices')"
                )
            )
        return {(name, sql or "") for name, sql in rows}


def amounts_in_ledger(ledger: GrantLedger, policy_id: str) -> dict[str, int]:
    with ledger.engine.connect() as c:
        return dict(
            c.execute(
                text(
                    "SELECT entity_id, amount_fen FROM gr_lines WHERE policy_id = :p"
                    " AND kind = 'award'"
                ),
                {"p": policy_id},
            ).all()
        )


@pytest.mark.parametrize("distinct", [1, 3, _FEW_AMOUNTS + 5])
def test_bulk_batch_keeps_every_amount_and_the_unique_key(
    ledger: GrantLedger, distinct: int
) -> None:
    before = indexes(ledger)
    eligible = {code: Decimal("1000.01") + i % distinct for i, code in enumerate(codes(N))}
    eligible["91350200MB00000001"] = None  # unknown amount: held, not a line
    proposal = ledger.propose(DIRECT, "2026", eligible, OFFICER, run_id="r1", as_of=AS_OF)
    assert proposal.batch is not None and proposal.awards == N
    assert proposal.held == {"兑现金额为零或未知": 1}
    assert proposal.batch.by_status == {"待确认": N} == ledger.batch(proposal.batch.id).by_status
    assert indexes(ledger) == before  # rebuilt exactly as the migration made them
    stored = amounts_in_ledger(ledger, DIRECT.id)
    assert stored == {e: int(a * 100) for e, a in eligible.items() if a is not None}
    assert proposal.batch.total == sum(a for a in eligible.values() if a is not None)
    with ledger.engine.connect() as c:  # never pays twice: a second award for a key is refused
        first = next(iter(stored))
        with pytest.raises(IntegrityError):
            c.execute(
                text(
                    "INSERT INTO gr_lines (batch_id, policy_id, period, entity_id, kind,"
                    " amount_fen, status) VALUES (:b, :p, '2026', :e, 'award', 1, '待确认')"
                ),
                {"b": proposal.batch.id, "p": DIRECT.id, "e": first},
            )


def test_bulk_approve_counts_notices_and_a_rerun_that_writes_nothing(
    ledger: GrantLedger,
) -> None:
    eligible = {code: Decimal("300000") for code in codes(N)}
    proposal = ledger.propose(DIRECT, "2026", eligible, OFFICER, run_id="r1", as_of=AS_OF)
    assert proposal.batch is not None
    before = indexes(ledger)
    approved = ledger.approve(proposal.batch.id, REVIEWER)
    assert approved.by_status == {"已确认": N} == ledger.batch(approved.id).by_status
    assert indexes(ledger) == before
    counts = ledger.counts()
    assert counts["gr_notices"] == N
    again = ledger.propose(DIRECT, "2026", eligible, OFFICER, run_id="r2", as_of=AS_OF)
    assert again.batch is None and again.held == {"已在台账（不重复兑现）": N}
    assert ledger.counts() == counts
    # a data correction: two entities drop out, one is due less; reversals, the awards untouched
    changed = dict(eligible)
    gone = sorted(changed)[:2]
    for code in gone:
        del changed[code]
    less = sorted(changed)[0]
    changed[less] = Decimal("100000")
    fix = ledger.propose(DIRECT, "2026", changed, OFFICER, run_id="r3", as_of=AS_OF)
    assert fix.batch is not None and fix.awards == 0 and fix.reversals == 3
    assert fix.batch.total == Decimal("-800000.00")
    assert amounts_in_ledger(ledger, DIRECT.id) == {e: 30_000_000 for e in eligible}
    done = ledger.approve(fix.batch.id, REVIEWER)
    assert done.by_status == {"已确认": 3} == ledger.batch(done.id).by_status
    assert ledger.line(ledger.find_line(DIRECT.id, "2026", less).id).net == Decimal("100000.00")
    for code in gone:
        with pytest.raises(Exception, match="没有兑现行"):
            ledger.find_line(DIRECT.id, "2026", code)  # 撤销: nothing left to pay
    after = ledger.counts()
    assert ledger.propose(DIRECT, "2026", changed, OFFICER, run_id="r4", as_of=AS_OF).batch is None
    assert ledger.counts() == after


def test_a_second_bulk_batch_beside_a_bigger_ledger_keeps_indexes_in_place(
    ledger: GrantLedger,
) -> None:
    """When the ledger already holds more lines than the batch adds, indexes are not rebuilt
    (that would cost the whole table): the rows go through them, and the key still holds."""
    first = {code: Decimal("500") for code in codes(N + 2000)}
    batch = ledger.propose(DIRECT, "2026", first, OFFICER, run_id="r1", as_of=AS_OF).batch
    assert batch is not None
    ledger.approve(batch.id, REVIEWER)
    second = {code: Decimal("700") for code in codes(N)}
    proposal = ledger.propose(DIRECT, "2027", second, OFFICER, run_id="r2", as_of=AS_OF)
    assert proposal.batch is not None and proposal.awards == N
    assert ledger.counts()["gr_lines"] == 2 * N + 2000
    ledger.approve(proposal.batch.id, REVIEWER)
    counts = ledger.counts()
    assert ledger.propose(DIRECT, "2027", second, OFFICER, run_id="r3", as_of=AS_OF).batch is None
    assert ledger.counts() == counts
