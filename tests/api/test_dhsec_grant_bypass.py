"""Finding 1 (issue 7): an enterprise's account reads internal fields only under a grant, audited.

`GET /policies/enterprises/{code}` used to read every stored fact of the enterprise with any staff
key, unaudited, while `/data/entities` refused the same fields. Now both go through the data hub.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from zhixiang.access import open_access, operator
from zhixiang.api import create_app
from zhixiang.catalog import Sensitivity, load_catalog
from zhixiang.config import load_settings
from zhixiang.datahub import audit_records, entity_digest, open_warehouse
from zhixiang.demo import generate_enterprises
from zhixiang.demo.departments import import_demo_sources

INTERNAL = {
    f.name for f in load_catalog("enterprise").fields if f.sensitivity is not Sensitivity.PUBLIC
}
INTERNAL_LABELS = {f.label for f in load_catalog("enterprise").fields if f.name in INTERNAL}


@pytest.fixture
def platform(home: Path) -> Iterator[dict]:
    settings = load_settings()
    table = generate_enterprises(60, seed=5, reference=dt.date(2026, 6, 30))
    import_demo_sources(settings, table)
    access = open_access(settings.access_db)
    root = operator("test")
    commerce, _ = access.create_key(root, ["handler"], label="商务局", department="city-commerce")
    officer, _ = access.create_key(root, ["data_officer"], label="数据", department="city-data")
    access.close()
    with TestClient(create_app(settings)) as client:
        yield {
            "client": client,
            "settings": settings,
            "code": table["credit_code"][0].as_py(),
            "commerce": {"X-API-Key": commerce},
            "officer": {"X-API-Key": officer},
        }


def _facts_shown(account: dict) -> set[str]:
    """Every fact label the account shows a value for, over all policies and conditions."""
    return {
        label
        for p in account["policies"]
        for c in p["conditions"]
        for label, value in c["facts"].items()
        if value not in (None, "", "未知")
    }


def test_without_a_grant_an_account_shows_no_internal_field(platform: dict) -> None:
    client, code = platform["client"], platform["code"]
    account = client.get(f"/policies/enterprises/{code}", headers=platform["commerce"])
    assert account.status_code == 200, account.text
    body = account.json()
    assert set(body["withheld"]) >= INTERNAL and not INTERNAL & set(body["fields"])
    assert body["grants"] == [] and body["audit_seq"] is None
    assert _facts_shown(body) & INTERNAL_LABELS == set()
    # the same rule as the data hub's own read: internal fields are not given without a grant
    direct = client.get(
        "/data/entities/enterprise",
        params={"purpose": "政策找人", "fields": ["revenue"], "key": code},
        headers=platform["commerce"],
    )
    assert direct.status_code == 403


def test_with_a_grant_the_account_shows_the_granted_fields_and_is_audited(platform: dict) -> None:
    client, code = platform["client"], platform["code"]
    granted = client.post(
        "/data/grants",
        json={
            "grantee": "city-commerce",
            "entity": "enterprise",
            "fields": ["营业收入", "出口额"],
            "purpose": "政策找人",
            "valid_until": "2099-12-31",
        },
        headers=platform["officer"],
    )
    assert granted.status_code == 201, granted.text
    body = client.get(f"/policies/enterprises/{code}", headers=platform["commerce"]).json()
    assert {"revenue", "export_value"} <= set(body["fields"])
    assert "tax_paid" in body["withheld"] and body["grants"] == [granted.json()["grant_id"]]
    assert body["audit_seq"] is not None
    with open_warehouse(platform["settings"].warehouse_url) as wh:
        record = next(r for r in audit_records(wh, 10).to_pylist() if r["seq"] == body["audit_seq"])
    assert record["actor"].startswith("city-commerce via api:")  # who
    assert (
        record["purpose"] == "政策找人" and record["entity"] == "enterprise"
    )  # for what, which kind
    assert "revenue" in record["fields"].split(",")
    assert entity_digest(code) in record["detail"] and code not in record["detail"]  # which entity

    other = client.get(
        f"/policies/enterprises/{code}",
        params={"purpose": "别的用途"},
        headers=platform["commerce"],
    ).json()
    assert "revenue" in other["withheld"]  # a grant holds only for its purpose


def test_an_unknown_enterprise_is_404_and_a_bad_code_422(platform: dict) -> None:
    client, code = platform["client"], platform["code"]
    from zhixiang.identity import credit_code_check_char

    body = "91350200MA00000" + ("01" if code[15:17] != "01" else "02")
    missing = body + credit_code_check_char(body)
    assert (
        client.get(f"/policies/enterprises/{missing}", headers=platform["commerce"]).status_code
        == 404
    )
    assert client.get("/policies/enterprises/123", headers=platform["commerce"]).status_code == 422
    assert client.get(f"/policies/enterprises/{code}").status_code == 401


def test_the_audit_names_an_entity_only_to_the_holder_of_the_audit_key(platform: dict) -> None:
    """A plain hash of a 身份证号 or credit code can be reversed by hashing every valid one: the
    digest in audit records is keyed, so it differs from the plain hash and under another key."""
    import hashlib

    code = platform["code"]
    shown = entity_digest(code)
    assert shown == entity_digest(code)  # stable: an auditor can find an entity's reads
    assert hashlib.sha256(code.encode()).hexdigest()[:16] not in shown
    assert shown != entity_digest(code, b"another key" * 3)
