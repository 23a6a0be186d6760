"""免申即享 in the demo: a payee register for the demo enterprises, then one proposed batch per
直接兑现 policy from the current match run, proposed by the demo policy officer so the demo
reviewer can approve it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from zhixiang.access import Principal, PrincipalKind, Role
from zhixiang.config import Settings
from zhixiang.errors import Conflict
from zhixiang.grants import Proposal, open_ledger, propose_from_run
from zhixiang.rules import load_policies

BANKS = (
    "中国工商银行厦门分行",
    "中国建设银行厦门分行",
    "中国银行厦门分行",
    "厦门银行",
    "兴业银行厦门分行",
)
#: Every this-many-th demo enterprise has no account on file, so the export shows what happens then.
NO_ACCOUNT_EVERY = 97
DEMO_OFFICER = Principal(
    PrincipalKind.USER, "demo-policy", "演示政策管理员 陈静", frozenset({Role.POLICY_ADMIN})
)


@dataclass(frozen=True)
class DemoBatch:
    policy_id: str
    title: str
    proposal: Proposal | None
    refused: str | None = None


def payee_rows(table: pa.Table) -> list[dict[str, str]]:
    """A synthetic payee register (收款人名录) for the demo enterprises: deterministic accounts."""
    rows = []
    codes, names = table.column("credit_code").to_pylist(), table.column("name").to_pylist()
    for i, (code, name) in enumerate(zip(codes, names, strict=True)):
        if i % NO_ACCOUNT_EVERY == NO_ACCOUNT_EVERY - 1:
            continue
        digest = hashlib.sha256(code.encode()).hexdigest()
        account = "".join(str(int(ch, 16) % 10) for ch in digest[:19])
        rows.append(
            {
                "统一社会信用代码": code,
                "收款单位": name or code,
                "开户行": BANKS[int(digest[:2], 16) % len(BANKS)],
                "账号": account,
            }
        )
    return rows


def propose_demo_batches(settings: Settings, table: pa.Table, policies_dir) -> list[DemoBatch]:  # type: ignore[no-untyped-def]
    """One batch per 直接兑现 policy for this year, from the current run."""
    ledger = open_ledger(settings.grants_db)
    try:
        ledger.import_accounts(payee_rows(table), DEMO_OFFICER, source="演示收款人名录")
        policies = load_policies([policies_dir]).policies
        period = str(date.today().year)
        made = []
        for policy in policies:
            if policy.delivery != "直接兑现":
                continue
            try:
                proposal = propose_from_run(
                    ledger,
                    policies,
                    policy.id,
                    period,
                    DEMO_OFFICER,
                    results_dir=settings.results_dir,
                    notice_days=7,
                )
                made.append(DemoBatch(policy.id, policy.title, proposal))
            except Conflict as exc:
                made.append(DemoBatch(policy.id, policy.title, None, exc.message))
        return made
    finally:
        ledger.dispose()
