"""智能快审 over HTTP, and the outreach and reform routes: permissions declared, refusals precise."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from zhixiang.access import open_access, operator
from zhixiang.api import create_app
from zhixiang.catalog import load_catalog
from zhixiang.config import load_settings
from zhixiang.datahub import create_grant, ensure_tables, open_warehouse
from zhixiang.demo import demo_policies_dir, generate_enterprises
from zhixiang.matching import facts_from_row, run_matching
from zhixiang.review import PURPOSE
from zhixiang.rules import evaluate_policy, load_policies

AS_OF = date(2026, 6, 30)
POLICIES = load_policies([demo_policies_dir()]).policies
TAX = next(p for p in POLICIES if p.id == "tax-contribution-award")


@pytest.fixture
def platform(home: Path):
    settings = load_settings()
    table = generate_enterprises(400, seed=41, reference=AS_OF)
    path = settings.warehouse_url.removeprefix("duckdb://")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(path) as con:
        con.register("rows_in", table)
        con.execute("CREATE TABLE enterprise AS SELECT * FROM rows_in")
    with open_warehouse(settings.warehouse_url) as wh:
        ensure_tables(wh)
        create_grant(
            wh,
            grantee=TAX.id,
            grantee_kind="policy",
            entity="enterprise",
            fields=list(TAX.fields_read()),
            purpose=PURPOSE,
            valid_until=date(2030, 12, 31),
            today=AS_OF,
        )
    access = open_access(settings.access_db)
    window, _ = access.create_key(operator("t"), ["agent"], label="受理窗口", department="center")
    reviewer, _ = access.create_key(
        operator("t"), ["reviewer"], label="审核员", department="city-finance"
    )
    handler, _ = access.create_key(
        operator("t"), ["handler"], label="办理人", department="city-commerce"
    )
    client = TestClient(create_app(settings))
    yield client, table.to_pylist(), {"window": window, "reviewer": reviewer, "handler": handler}
    client.close()


def _h(secret: str) -> dict:
    return {"X-API-Key": secret}


def test_an_application_is_decided_over_http_and_a_reviewer_overrides_it(platform) -> None:
    client, rows, keys = platform
    catalog = load_catalog("enterprise")
    row = next(
        r
        for r in rows
        if evaluate_policy(TAX, facts_from_row(catalog, r), AS_OF).failed == ("tax_paid",)
    )
    body = {"policy_id": TAX.id, "entity_id": row["credit_code"], "as_of": "2026-06-30"}
    assert client.post("/review/applications", json=body).status_code == 401
    assert (
        client.post("/review/applications", json=body, headers=_h(keys["handler"])).status_code
        == 403
    )
    made = client.post("/review/applications", json=body, headers=_h(keys["window"]))
    assert made.status_code == 201, made.text
    application = made.json()
    assert application["status"] == "refused" and application["failed"] == ["tax_paid"]
    again = client.post("/review/applications", json=body, headers=_h(keys["window"]))
    assert again.status_code == 201  # refused before: one may apply again
    # out of force, not in the warehouse: refused precisely, nothing stored
    late = client.post(
        "/review/applications", json={**body, "as_of": "2031-01-01"}, headers=_h(keys["window"])
    )
    assert late.status_code == 422 and "不在有效期内" in late.json()["detail"]
    absent = generate_enterprises(1, seed=4242, reference=AS_OF).to_pylist()[0]["credit_code"]
    missing = client.post(
        "/review/applications", json={**body, "entity_id": absent}, headers=_h(keys["window"])
    )
    assert missing.status_code == 404 and "数据仓库中没有" in missing.json()["detail"]
    assert client.get("/review/queue", headers=_h(keys["window"])).status_code == 403
    decided = client.post(
        f"/review/applications/{application['id']}/decision",
        json={"status": "approved", "reason": "复议：纳税额已更正", "amount": "20000"},
        headers=_h(keys["reviewer"]),
    )
    assert decided.status_code == 200 and decided.json()["amount"] == "20000.00"
    no_reason = client.post(
        f"/review/applications/{application['id']}/decision",
        json={"status": "refused", "reason": ""},
        headers=_h(keys["reviewer"]),
    )
    assert no_reason.status_code == 422
    shown = client.get(f"/review/applications/{application['id']}", headers=_h(keys["reviewer"]))
    assert [e["action"] for e in shown.json()["history"]] == [
        "submitted",
        "auto_decided",
        "override",
    ]
    assert client.get(f"/review/applications/{application['id']}").status_code == 401
    stats = client.get("/review/stats", headers=_h(keys["reviewer"])).json()
    assert stats["applications"] == 2


def test_outreach_and_reform_routes(platform, tmp_path: Path) -> None:
    client, _, keys = platform
    settings = load_settings()
    run_matching(settings.warehouse_url, POLICIES, AS_OF, results_dir=settings.results_dir)
    near = client.get(
        "/policies/near-misses",
        params={"policy_id": "tax-contribution-award", "closeness": "0.9"},
        headers=_h(keys["reviewer"]),
    )
    assert near.status_code == 200
    closeness = [float(r["closeness"]) for r in near.json()["rows"]]
    assert closeness == sorted(closeness, reverse=True) and all(c >= 0.9 for c in closeness)
    low = client.get(
        "/policies/near-misses", params={"closeness": "0.2"}, headers=_h(keys["reviewer"])
    )
    assert low.status_code == 422
    soon = client.get("/policies/upcoming", params={"days": 365}, headers=_h(keys["reviewer"]))
    assert soon.status_code == 200
    assert all(r["holds_on"] for r in soon.json()["rows"])
    new = TAX.path.read_text("utf-8").replace("纳税总额 >= 1000万元", "纳税总额 >= 2000万元")
    body = {"old": TAX.id, "new_yaml": new, "as_of": "2026-06-30"}
    assert client.post("/policies/compare", json=body).status_code == 401
    assert (
        client.post("/policies/compare", json=body, headers=_h(keys["handler"])).status_code == 403
    )
    compared = client.post("/policies/compare", json=body, headers=_h(keys["reviewer"]))
    assert compared.status_code == 200, compared.text
    chart = compared.json()
    assert chart["eligible"]["new"] <= chart["eligible"]["old"]
    assert {s["key"] for s in chart["by_district"]["series"]} >= {"no_longer_eligible"}
    broken = client.post(
        "/policies/compare",
        json={**body, "new_yaml": "id: x\n"},
        headers=_h(keys["reviewer"]),
    )
    assert broken.status_code == 422 and "new.yaml" in str(broken.json()["detail"])
