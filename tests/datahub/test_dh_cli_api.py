"""The data officer's CLI and the data API, end to end on the embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from zhixiang.cli import app
from zhixiang.config import Settings
from zhixiang.datahub import open_warehouse
from zhixiang.datahub._audit import AUDIT
from zhixiang.demo import generate_enterprises
from zhixiang.demo.departments import write_department_extracts

runner = CliRunner()


@pytest.fixture
def extracts(home: Path) -> list[Path]:
    # Under the platform's data folder: the only place the API imports from.
    folder = home / "data" / "in"
    return list(write_department_extracts(generate_enterprises(40, seed=2), folder).mappings)


def test_cli_import_quarantine_quality_read_and_audit(home: Path, extracts: list[Path]) -> None:
    result = runner.invoke(app, ["data", "import", *map(str, extracts)])
    assert result.exit_code == 0, result.output
    assert "导入报告" in result.output and "隔离" in result.output
    quarantine = runner.invoke(app, ["data", "quarantine", "--json"])
    assert quarantine.exit_code == 0 and quarantine.output.count("\n") == 6
    quality = runner.invoke(app, ["data", "quality", "税务局-纳税申报"])
    assert quality.exit_code == 0 and "填充率" in quality.output and "营业收入" in quality.output
    assert runner.invoke(app, ["data", "sources"]).exit_code == 0
    denied = runner.invoke(
        app,
        [
            "data",
            "read",
            "enterprise",
            "--as",
            "人社局",
            "--purpose",
            "稳岗返还",
            "--fields",
            "revenue",
        ],
    )
    assert denied.exit_code == 2 and "没有以“稳岗返还”为用途" in denied.output
    granted = runner.invoke(
        app,
        [
            "data",
            "grants",
            "add",
            "人社局",
            "--entity",
            "enterprise",
            "--fields",
            "营业收入,参保人数",
            "--purpose",
            "稳岗返还",
            "--until",
            "2099-12-31",
        ],
    )
    assert granted.exit_code == 0 and "已授权 #1" in granted.output
    read = runner.invoke(
        app,
        [
            "data",
            "read",
            "enterprise",
            "--as",
            "人社局",
            "--purpose",
            "稳岗返还",
            "--json",
            "--limit",
            "3",
        ],
    )
    assert read.exit_code == 0 and read.output.count('"revenue"') == 3
    verify = runner.invoke(app, ["audit", "verify"])
    assert verify.exit_code == 0 and "哈希链校验通过" in verify.output


def test_cli_audit_verify_fails_on_a_tampered_log(home: Path) -> None:
    from zhixiang.config import load_settings
    from zhixiang.datahub import append_audit

    with open_warehouse(load_settings().warehouse_url) as wh:
        for i in range(3):
            append_audit(wh, actor="人社局", purpose="p", entity="person", fields=["name"], rows=i)
        wh.execute(f"UPDATE {AUDIT} SET actor = '别人' WHERE seq = 3")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1 and "第3条的内容与其哈希不符" in result.output


def test_cli_rejects_a_bad_mapping_with_its_file_and_key(home: Path) -> None:
    bad = home / "bad.yaml"
    bad.write_text(
        "source: x\ndepartment: y\nentity: enterprise\nformat: xls\nkey: k\ncolumns: {k: credit_code}\n",
        "utf-8",
    )
    result = runner.invoke(app, ["data", "import", str(bad)])
    assert result.exit_code == 2 and "bad.yaml" in result.output and "format 应为" in result.output


def test_api_needs_a_key_and_reads_only_under_grant(home: Path, extracts: list[Path]) -> None:
    from zhixiang.access import open_access, operator
    from zhixiang.api import create_app
    from zhixiang.config import load_settings

    settings: Settings = load_settings()
    access = open_access(settings.access_db)
    root = operator("test")
    secret, _ = access.create_key(root, ["handler"], label="人社", department="city-hrss")
    officer_secret, _ = access.create_key(
        root, ["data_officer"], label="数据管理员", department="city-data"
    )
    client = TestClient(create_app(settings))
    key = {"X-API-Key": secret}
    officer = {"X-API-Key": officer_secret}
    assert client.get("/data/catalog", params={"entity": "person"}).status_code == 200
    assert (
        client.post("/data/imports", json={"mappings": [str(p) for p in extracts]}).status_code
        == 401
    )
    not_officer = client.post(
        "/data/imports", json={"mappings": [str(p) for p in extracts]}, headers=key
    )
    assert not_officer.status_code == 403 and "数据管理员" in not_officer.json()["detail"]
    imported = client.post(
        "/data/imports", json={"mappings": [str(p) for p in extracts]}, headers=officer
    )
    assert imported.status_code == 200 and imported.json()["entity_rows"] == {"enterprise": 40}
    assert client.get("/data/quality", headers=key).status_code == 403  # not a handler's duty
    quality = client.get("/data/quality", headers=officer).json()
    assert {q["source"] for q in quality} >= {"税务局-纳税申报", "市场监管局-企业登记"}
    denied = client.get(
        "/data/entities/enterprise",
        params={"purpose": "稳岗返还", "fields": "revenue"},
        headers=key,
    )
    assert denied.status_code == 403
    self_grant = client.post(
        "/data/grants",
        json={
            "grantee": "city-hrss",
            "entity": "enterprise",
            "fields": ["revenue"],
            "purpose": "稳岗返还",
            "valid_until": "2099-01-01",
        },
        headers=key,
    )
    assert self_grant.status_code == 403  # a department cannot grant itself access
    grant = client.post(
        "/data/grants",
        json={
            "grantee": "city-hrss",
            "entity": "enterprise",
            "fields": ["revenue"],
            "purpose": "稳岗返还",
            "valid_until": "2099-01-01",
        },
        headers=officer,
    )
    assert grant.status_code == 201, grant.text
    read = client.get(
        "/data/entities/enterprise",
        params={
            "purpose": "稳岗返还",
            "fields": ["credit_code", "revenue", "tax_paid"],
            "limit": 5,
        },
        headers=key,
    ).json()
    assert (
        read["fields"] == ["credit_code", "revenue"]
        and read["withheld"] == ["tax_paid"]
        and len(read["rows"]) == 5
    )
    assert client.get("/data/audit/verify", headers=officer).json()["ok"] is True
    bad = client.post(
        "/data/grants",
        json={
            "grantee": "city-hrss",
            "entity": "enterprise",
            "fields": ["nope"],
            "purpose": "p",
            "valid_until": "2099-01-01",
        },
        headers=officer,
    )
    assert bad.status_code == 422 and "没有字段" in bad.json()["detail"]
