"""`zhixiang explain` for a household, the residents API and the 一件事 bundles: masked by default,
clear only under a clear grant, every read audited with the policy as its purpose."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import ibis
from fastapi.testclient import TestClient
from hypothesis import find
from rr_households import ANY_EXAMPLE, AS_OF, households, warehouse_tables
from typer.testing import CliRunner

from zhixiang.access import open_access, operator
from zhixiang.api import create_app
from zhixiang.cli import app
from zhixiang.config import load_settings
from zhixiang.datahub import audit_records, create_grant, open_warehouse
from zhixiang.demo import resident_policies_dir
from zhixiang.matching import explain_resident
from zhixiang.rules import load_policies

POLICIES = load_policies([resident_policies_dir()]).policies


def _warehouse(url: str) -> dict:
    drawn = find(
        households,
        lambda hs: len(hs) >= 3 and all(len(h[1][1]) >= 1 for h in hs),
        settings=ANY_EXAMPLE,
    )
    tables = warehouse_tables(drawn)
    con = ibis.duckdb.connect(url.removeprefix("duckdb://"))
    for name, table in tables.items():
        con.create_table(name, table, overwrite=True)
    con.disconnect()
    return tables


def test_explain_masks_names_and_audits_each_policy(home: Path) -> None:
    settings = load_settings()
    tables = _warehouse(settings.warehouse_url)
    member = tables["household_member"].to_pylist()[1]
    person = next(p for p in tables["person"].to_pylist() if p["id_number"] == member["id_number"])

    report = explain_resident(
        settings.warehouse_url, POLICIES, AS_OF, reader="民政局", id_number=member["id_number"]
    )
    assert report is not None and report.household_id == member["household_id"]
    text = json.dumps(report.to_dict(), ensure_ascii=False)
    assert person["name"] not in text and member["id_number"] not in text
    assert member["id_number"][:4] + "*" * 10 + member["id_number"][-4:] in text
    with open_warehouse(settings.warehouse_url) as wh:
        audit = audit_records(wh, limit=100).to_pylist()
    in_force = [p for p in POLICIES if p.in_force(AS_OF)]
    assert len(audit) == len(in_force)
    assert {a["purpose"].split(" ")[0] for a in audit} == {p.id for p in in_force}
    assert all(a["actor"] == "民政局" and a["entity"] == "person" for a in audit)
    dibao = next(a for a in audit if a["purpose"].startswith("gz-dibao "))
    assert set(dibao["fields"].split(",")) == {"household_region", "monthly_income"}

    with open_warehouse(settings.warehouse_url) as wh:
        create_grant(
            wh,
            grantee="民政局",
            entity="person",
            fields=["name", "id_number"],
            purpose="惠民政策找人",
            valid_until=dt.date.today() + dt.timedelta(days=30),
            clear=True,
        )
    clear = explain_resident(
        settings.warehouse_url, POLICIES, AS_OF, reader="民政局", id_number=member["id_number"]
    )
    assert clear is not None and person["name"] in json.dumps(clear.to_dict(), ensure_ascii=False)
    other = explain_resident(
        settings.warehouse_url, POLICIES, AS_OF, reader="教育局", id_number=member["id_number"]
    )
    assert other is not None and not other.clear


def test_life_events_group_what_the_household_qualifies_for(home: Path) -> None:
    settings = load_settings()
    tables = _warehouse(settings.warehouse_url)
    for h in tables["household"].to_pylist():
        report = explain_resident(
            settings.warehouse_url, POLICIES, AS_OF, reader="民政局", household_id=h["household_id"]
        )
        assert report is not None
        bundles = report.to_dict()["life_events"]
        listed = {(p["policy_id"], p["member"]) for b in bundles for p in b["policies"]}
        expected = {
            (o.policy.id, report.who(o.member) if o.member else None)
            for o in report.outcomes
            if o.verdict.status != "ineligible"
        }
        assert listed == expected
        for bundle in bundles:
            assert bundle["event"] in ("生育", "入学", "就业失业", "住房", "养老", "残疾", "救助")
            for p in bundle["policies"]:
                assert p["next_step"]
                if p["status"] == "needs_information":
                    assert p["next_step"].startswith("补充信息")


def test_cli_and_api(home: Path) -> None:
    settings = load_settings()
    tables = _warehouse(settings.warehouse_url)
    hid = tables["household"].to_pylist()[0]["household_id"]
    runner = CliRunner()
    shown = runner.invoke(app, ["explain", "--household", hid, "--as-of", AS_OF.isoformat()])
    assert shown.exit_code == 0, shown.output
    assert f"户 {hid}" in shown.output and "已脱敏" in shown.output
    missing = runner.invoke(app, ["explain", "--household", "H-none"])
    assert missing.exit_code == 1 and "没有" in missing.output
    bad = runner.invoke(app, ["explain", "440106199001011230"])
    assert bad.exit_code == 2

    secret, _ = open_access(settings.access_db).create_key(
        operator("test"), ["handler"], label="民政局", department="city-civil-affairs"
    )
    client = TestClient(create_app(settings))
    url = f"/residents/households/{hid}/life-events?as_of={AS_OF.isoformat()}"
    assert client.get(url).status_code == 401
    events = client.get(url, headers={"X-API-Key": secret})
    assert events.status_code == 200 and events.json()["masked"] is True
    assert client.get("/residents/persons/123", headers={"X-API-Key": secret}).status_code == 422
    gone = client.get("/residents/households/H-none", headers={"X-API-Key": secret})
    assert gone.status_code == 404
