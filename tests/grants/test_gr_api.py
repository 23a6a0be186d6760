"""The 免申即享 routes: each declares its permission; refusals are their precise status, never 500."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient

from zhixiang.access import Principal, PrincipalKind, Role, open_access, operator
from zhixiang.api import KEY_HEADER, create_app
from zhixiang.config import load_settings
from zhixiang.demo import demo_policies_dir
from zhixiang.grants import open_ledger
from zhixiang.rules import load_policies


def test_grant_routes_approve_refuse_and_serve_the_dashboard(home: Path) -> None:
    settings = load_settings()
    access = open_access(settings.access_db)
    officer_key, officer = access.create_key(operator("t"), ["policy_admin"], label="政策管理员")
    reviewer_key, _ = access.create_key(operator("t"), ["reviewer"], label="审核员")
    client = TestClient(create_app(settings))

    assert client.get("/grants/dashboard").status_code == 401
    refused = client.post(
        "/grants/batches",
        json={"policy_id": "specialized-sme-award", "period": "2026"},
        headers={KEY_HEADER: officer_key},
    )
    assert refused.status_code == 404 and "尚未运行批量匹配" in refused.json()["detail"]
    bad = client.post(
        "/grants/batches",
        json={"policy_id": "specialized-sme-award", "period": "26"},
        headers={KEY_HEADER: officer_key},
    )
    assert bad.status_code == 422

    policy = load_policies([demo_policies_dir()]).by_id("specialized-sme-award")
    proposer = Principal(PrincipalKind.KEY, officer.id, roles=frozenset({Role.POLICY_ADMIN}))
    proposal = open_ledger(settings.grants_db).propose(
        policy,
        "2026",
        {"91350200MA00000001": Decimal("300000")},
        proposer,
        run_id="r",
        as_of=date(2026, 6, 30),
    )
    url = f"/grants/batches/{proposal.batch.id}/approve"
    assert client.post(url, headers={KEY_HEADER: officer_key}).status_code == 403
    approved = client.post(url, headers={KEY_HEADER: reviewer_key})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert client.post(url, headers={KEY_HEADER: reviewer_key}).status_code == 409
    lines = client.get(
        f"/grants/batches/{proposal.batch.id}/lines", headers={KEY_HEADER: reviewer_key}
    )
    assert [line["status"] for line in lines.json()] == ["已确认"]
    board = client.get("/grants/dashboard?period=2026", headers={KEY_HEADER: officer_key}).json()
    assert board[0]["granted_without_application"] == 1 and board[0]["paid"] == 0
    missing = client.post(
        f"/grants/batches/{proposal.batch.id}/export", headers={KEY_HEADER: officer_key}
    )
    assert missing.status_code == 422 and "缺少收款账户" in missing.json()["detail"]
