from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient

from zhixiang.access import open_access, operator
from zhixiang.api import create_app
from zhixiang.config import load_settings
from zhixiang.demo import generate_enterprises
from zhixiang.matching import connect


def test_calculator_and_enterprise_account(home: Path) -> None:
    settings = load_settings()
    table = generate_enterprises(300, seed=2)
    con = connect(settings.warehouse_url)
    con.create_table("enterprise", table, overwrite=True)
    con.disconnect()  # the API reads the warehouse read-only, as a server beside imports would
    secret, _ = open_access(settings.access_db).create_key(
        operator("test"), ["handler"], label="商务局", department="city-commerce"
    )
    client = TestClient(create_app(settings))

    policies = client.get("/policies").json()
    assert len(policies) == 14 and {"policy_id", "conditions", "source"} <= set(policies[0])

    result = client.post(
        "/policies/calculate",
        json={
            "facts": {
                "研发费用": "350万元",
                "研发投入占比": "4.2%",
                "纳税信用等级": "A",
                "欠税": False,
            },
            "as_of": "2026-06-30",
        },
    )
    assert result.status_code == 200
    rd = next(p for p in result.json()["policies"] if p["policy_id"] == "rd-expense-subsidy")
    assert rd["status"] == "eligible" and rd["amount"] == "350000.00"

    bad_unit = client.post("/policies/calculate", json={"facts": {"营业收入": 3000}})
    assert bad_unit.status_code == 422 and "金额请带单位" in bad_unit.json()["detail"]
    unknown = client.post("/policies/calculate", json={"facts": {"营收": "1万元"}})
    assert unknown.status_code == 422 and "未知字段: 营收" in unknown.json()["detail"]

    code = table["credit_code"][0].as_py()
    assert client.get(f"/policies/enterprises/{code}").status_code == 401
    account = client.get(f"/policies/enterprises/{code}", headers={"X-API-Key": secret})
    assert account.status_code == 200 and account.json()["entity_id"] == code
    wrong = client.get(f"/policies/enterprises/{code[:-1]}Z", headers={"X-API-Key": secret})
    assert wrong.status_code == 422

    none_yet = client.get("/policies/summary", headers={"X-API-Key": secret})
    assert none_yet.status_code == 404 and "尚未运行批量匹配" in none_yet.json()["detail"]
    from zhixiang.demo import demo_policies_dir
    from zhixiang.matching import run_matching
    from zhixiang.rules import load_policies

    run = run_matching(
        settings.warehouse_url,
        load_policies([demo_policies_dir()]).policies,
        dt.date(2026, 6, 30),
        results_dir=settings.results_dir,
    )
    summary = client.get("/policies/summary", headers={"X-API-Key": secret}).json()
    assert {s["run_id"] for s in summary} == {run.run_id} and len(summary) == len(run.policies)
