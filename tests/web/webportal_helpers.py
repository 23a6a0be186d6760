"""The 企业服务 portal tests' world: two enterprise accounts, a 意愿确认 grant batch on public notice
for both, and the enterprises chosen from the demo warehouse by what the policies need."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from fastapi.testclient import TestClient

from zhixiang.access import Principal, PrincipalKind, Role, operator
from zhixiang.datahub import open_warehouse
from zhixiang.demo import demo_policies_dir
from zhixiang.grants import open_ledger
from zhixiang.rules import load_policies

PASSWORDS = {"qiye-a": "our own company a1", "qiye-b": "the other company b2"}
CONFIRM_POLICY = "graduate-hiring-subsidy"  # 意愿确认
APPLY_POLICY = "jimei-manufacturing-upgrade"  # 申请审核: 研发投入占比 is not shared without a grant
AUTO_POLICY = "invention-patent-grant"  # 申请审核, every fact public: decided at once
#: The match run's date: inside the 意愿确认 policy's validity whatever day the tests run.
MATCHED_ON = date(2026, 6, 30)


@dataclass
class Portal:
    a: str  # enterprise A's 统一社会信用代码 (a 集美区 manufacturer above scale)
    b: str  # enterprise B's
    lines: dict[str, int]  # entity → its line in the 意愿确认 batch


def _pick(url: str) -> tuple[str, str]:
    with open_warehouse(url) as wh:
        rows = wh.rows(
            "SELECT credit_code, region_code, industry_code, above_scale FROM enterprise "
            "ORDER BY credit_code"
        )
    jimei = [
        r[0]
        for r in rows
        if str(r[1]).startswith("350211")
        and str(r[2])[:3] in ("C34", "C35", "C38", "C39", "C40")
        and r[3]
    ]
    assert jimei, "the demo data has no 集美区 manufacturer above scale"
    other = next(r[0] for r in rows if r[0] != jimei[0])
    return jimei[0], other


def set_up(platform) -> Portal:
    """Accounts for two enterprises and an approved 意愿确认 batch with 10 days of public notice."""
    settings = platform.app.state.settings
    a, b = _pick(settings.warehouse_url)
    access = platform.app.state.access
    for username, code, name in (("qiye-a", a, "甲公司"), ("qiye-b", b, "乙公司")):
        access.create_user(
            operator("test"),
            username,
            PASSWORDS[username],
            [Role.ENTERPRISE],
            display_name=name,
            subject=code,
        )
    policy = load_policies([demo_policies_dir()]).by_id(CONFIRM_POLICY)
    officer = Principal(PrincipalKind.KEY, "wp-officer", roles=frozenset({Role.POLICY_ADMIN}))
    reviewer = Principal(PrincipalKind.KEY, "wp-reviewer", roles=frozenset({Role.REVIEWER}))
    ledger = open_ledger(settings.grants_db)
    try:
        proposal = ledger.propose(
            policy,
            "2026",
            {a: Decimal("3000"), b: Decimal("2000")},
            officer,
            run_id="webportal",
            as_of=MATCHED_ON,
            notice_days=10,
        )
        assert proposal.batch is not None
        ledger.approve(proposal.batch.id, reviewer)
        lines = {line.entity_id: line.id for line in ledger.lines(proposal.batch.id)}
    finally:
        ledger.dispose()
    return Portal(a, b, lines)


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


def client_for(platform, username: str | None = None) -> tuple[TestClient, str]:
    """A client (signed in as `username` when given) and the token its forms carry."""
    client = TestClient(platform.app, base_url="http://127.0.0.1", follow_redirects=False)
    token = csrf(client.get("/login").text)
    if username:
        answer = client.post(
            "/login",
            data={"username": username, "password": PASSWORDS[username], "csrf_token": token},
        )
        assert answer.status_code == 303, answer.text[:500]
        token = csrf(client.get("/qiye/calculator").text)
    return client, token
