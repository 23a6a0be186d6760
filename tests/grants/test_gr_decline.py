"""意愿确认 answered no (谢绝享受): the line counts no money, is not exported, is not offered again for
the same period, and only the entity itself (or staff for it) may decline, once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from zhixiang.access import Principal, PrincipalKind, Role
from zhixiang.demo import demo_policies_dir
from zhixiang.errors import Conflict, Forbidden, InvalidInput
from zhixiang.grants import GrantLedger
from zhixiang.rules import load_policies

AS_OF = date(2026, 6, 30)
BY_ID = {p.id: p for p in load_policies([demo_policies_dir()]).policies}
OFFICER = Principal(PrincipalKind.USER, "chen", "陈静", frozenset({Role.POLICY_ADMIN}))
REVIEWER = Principal(PrincipalKind.USER, "liu", "刘洋", frozenset({Role.REVIEWER}))
A, B = "91350200MA00000011", "91350200MA00000012"


def enterprise(code: str) -> Principal:
    return Principal(
        PrincipalKind.USER, f"e{code[-6:]}", "企业", frozenset({Role.ENTERPRISE}), subject=code
    )


def test_a_declined_line_pays_nothing_and_is_not_offered_again(ledger: GrantLedger) -> None:
    policy = BY_ID["graduate-hiring-subsidy"]
    assert policy.delivery == "意愿确认"
    asked = {A: Decimal("3000"), B: Decimal("3000")}
    batch = ledger.propose(policy, "2026", asked, OFFICER, run_id="r1", as_of=AS_OF).batch
    ledger.approve(batch.id, REVIEWER)
    lines = {x.entity_id: x for x in ledger.lines(batch.id)}
    with pytest.raises(Forbidden):  # another enterprise cannot answer for A
        ledger.decline(lines[A].id, enterprise(B))
    with pytest.raises(InvalidInput):
        ledger.decline(lines[A].id, enterprise(A), "长" * 2001)
    assert ledger.line(lines[A].id).status == "待确认"  # the refusals changed nothing

    declined = ledger.decline(lines[A].id, enterprise(A), "本年度不需要")
    assert declined.status == "撤销" and declined.reason == "本单位谢绝享受：本年度不需要"
    for again in (
        lambda: ledger.decline(lines[A].id, enterprise(A)),
        lambda: ledger.confirm(
            lines[A].id, enterprise(A), payee="企业A", bank="厦门银行", account="62220000111"
        ),
    ):
        with pytest.raises(Conflict):
            again()
    ledger.confirm(
        lines[B].id, enterprise(B), payee="企业B", bank="厦门银行", account="62220000222"
    )

    exported = ledger.export(batch.id, OFFICER)
    assert exported is not None and [r["统一社会信用代码"] for r in exported.rows] == [B]
    events = [e.action for e in ledger.history(batch.id)]
    assert "decline" in events

    # the same period again: A said no, so it is not offered a second time
    later = ledger.propose(policy, "2026", asked, OFFICER, run_id="r2", as_of=AS_OF, preview=True)
    assert A not in {entity for entity, _, _ in later.sample} and later.awards == 0


def test_only_a_confirmation_line_can_be_declined(ledger: GrantLedger) -> None:
    direct = BY_ID["specialized-sme-award"]
    assert direct.delivery == "直接兑现"
    batch = ledger.propose(
        direct, "2026", {A: Decimal("100000")}, OFFICER, run_id="r1", as_of=AS_OF
    )
    ledger.approve(batch.batch.id, REVIEWER)
    (line,) = ledger.lines(batch.batch.id)
    with pytest.raises(Conflict, match="不是已审批的意愿确认兑现"):
        ledger.decline(line.id, enterprise(A))
    assert ledger.line(line.id).status == "已确认"
