"""Finding 2 (issue 7): no personal data leaks through the data API's side doors.

The quarantine list and the import report show no 身份证号 (not in `value`, not in `reason`, not in
the raw record); quality reports withhold counts of fewer than 5 people in personal fields; the
audit log and the grant list are for those whose duty needs them; an ID number passed as `?key=`
never reaches the access log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from zhixiang.access import Role, open_access, operator
from zhixiang.api import CSRF_HEADER, SESSION_COOKIE, create_app
from zhixiang.config import load_settings
from zhixiang.datahub import load_mapping, open_warehouse, quarantine_rows, validate_extract
from zhixiang.datahub import read_extract as read_extract_

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(first17: str) -> str:
    """A 身份证号 with its GB 11643 check character."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


PEOPLE = [id_number(f"35020319900101{n:03d}") for n in range(101, 109)]  # 8 people of 思明区
DUPLICATE = PEOPLE[0]
PURPOSE = "就业补贴免申即享"


def _write_people(folder: Path) -> Path:
    """Eight people (the first twice: a duplicate key); two of them on 低保; one bad 户籍地."""
    rows = ["身份证号,姓名,户籍地,低保,月工资"]
    for i, person in enumerate(PEOPLE):
        region = "999999" if i == 3 else "350203"
        rows.append(f"{person},张{i},{region},{'是' if i in (1, 2) else '否'},{5000 + i}")
    rows.append(f"{DUPLICATE},王重名,350203,否,6000")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "people.csv").write_text("\n".join(rows) + "\n", "utf-8")
    mapping = {
        "source": "人社局-人员",
        "department": "人社局",
        "entity": "person",
        "format": "csv",
        "path": "people.csv",
        "key": "身份证号",
        "columns": {
            "身份证号": "id_number",
            "姓名": "name",
            "户籍地": "household_region",
            "低保": "low_income",
            "月工资": "monthly_wage",
        },
    }
    path = folder / "people.yaml"
    path.write_text(yaml.safe_dump(mapping, allow_unicode=True), "utf-8")
    return path


@pytest.fixture
def platform(home: Path) -> Iterator[dict]:
    settings = load_settings()
    mapping = _write_people(settings.data_dir / "hrss")
    access = open_access(settings.access_db)
    root = operator("test")

    def key(role: str, department: str) -> dict[str, str]:
        secret, _ = access.create_key(
            root, [role], label=f"{role} {department}", department=department
        )
        return {"X-API-Key": secret}

    callers = {
        "officer": key("data_officer", "city-data"),
        "hrss_officer": key("data_officer", "city-hrss"),
        "commerce_officer": key("data_officer", "city-commerce"),
        "hrss": key("handler", "city-hrss"),
    }
    access.create_user(
        root, "admin", "a strong passphrase 7", [Role.SYSADMIN], department="city-data"
    )
    signed = access.sign_in("admin", "a strong passphrase 7")
    callers["admin"] = {
        "Cookie": f"{SESSION_COOKIE}={signed.token}",
        CSRF_HEADER: signed.csrf_token,
    }
    access.close()
    with TestClient(create_app(settings)) as client:
        imported = client.post(
            "/data/imports", json={"mappings": [str(mapping)]}, headers=callers["officer"]
        )
        assert imported.status_code == 200, imported.text
        yield {
            "client": client,
            "settings": settings,
            "import": imported,
            "mapping": mapping,
            **callers,
        }


def test_the_import_report_returns_no_personal_value(platform: dict) -> None:
    report = platform["import"]
    assert report.json()["sources"][0]["rows_quarantined"] >= 2
    for person in PEOPLE:
        assert person not in report.text
    assert "张0" not in report.text and "王重名" not in report.text  # no raw rows either
    for row in report.json()["sources"][0]["quarantine"]:
        assert row["record"] is None and row["value"] in (None, "***")


def test_quarantine_reasons_carry_no_id_number(platform: dict) -> None:
    """Redacted where reasons are made (so the shell's quarantine list has none either) …"""
    with open_warehouse(platform["settings"].warehouse_url) as wh:
        stored = quarantine_rows(wh).to_pylist()
    duplicate = [r for r in stored if "主键重复" in r["reason"]]
    assert len(duplicate) == 2 and all("行 2、10" in r["reason"] for r in duplicate)
    assert all(DUPLICATE not in r["reason"] for r in stored)
    assert all(DUPLICATE[:4] in r["reason"] and DUPLICATE[-4:] in r["reason"] for r in duplicate)
    region = next(r for r in stored if r["field"] == "household_region")
    assert "999999" not in region["reason"]  # a personal field's value is not echoed


def test_the_quarantine_api_withholds_personal_values_and_rows(platform: dict) -> None:
    """… and withheld again when shown through the API (value, record and any ID in a reason)."""
    client = platform["client"]
    assert client.get("/data/quarantine", headers=platform["hrss"]).status_code == 403
    response = client.get("/data/quarantine", headers=platform["officer"])
    assert response.status_code == 200
    rows = response.json()
    assert rows and all(r["record"] is None for r in rows)
    assert all(r["value"] in (None, "***") for r in rows)
    for person in PEOPLE:
        assert person not in response.text


def test_reasons_made_before_redaction_are_masked_when_shown(platform: dict) -> None:
    """Quarantine rows written by an older version still carry raw IDs: the API masks them."""
    from zhixiang.datahub import redact_quarantine

    old = {
        "field": "id_number",
        "reason": f"主键重复: {DUPLICATE} 在本来源中出现2次",
        "value": DUPLICATE,
    }
    shown = redact_quarantine(old, "person")
    assert DUPLICATE not in shown["reason"] and shown["value"] == "***"
    assert f"{DUPLICATE[:4]}**********{DUPLICATE[-4:]}" in shown["reason"]


def test_validation_itself_names_no_personal_value(platform: dict) -> None:
    mapping = load_mapping(platform["mapping"])
    reasons = validate_extract(mapping, read_extract_(mapping)).quarantine["reason"].to_pylist()
    assert reasons and all(DUPLICATE not in r and "999999" not in r for r in reasons)


def test_quality_withholds_small_counts_of_personal_fields(platform: dict) -> None:
    client = platform["client"]
    response = client.get("/data/quality", headers=platform["officer"])
    assert response.status_code == 200
    (source,) = [s for s in response.json() if s["source"] == "人社局-人员"]
    fields = {f["field"]: f for f in source["fields"]}
    low_income = fields["low_income"]  # 2 of 7 people loaded are on 低保
    assert low_income["suppressed"] is True
    assert all(n is None or n >= 5 for n in low_income["distribution"]["top"].values())
    assert "是" not in low_income["distribution"]["top"]
    wage = fields["monthly_wage"]
    assert "min" not in wage["distribution"] and "max" not in wage["distribution"]  # one person's
    region = fields["household_region"]  # one invalid: a count of 1
    assert region["invalid"] is None and region["invalid_rate"] is None
    assert fields["name"]["filled"] == source["rows_loaded"]  # large counts stay


def test_the_audit_log_and_grants_are_only_for_those_whose_duty_needs_them(platform: dict) -> None:
    client = platform["client"]
    grant = client.post(
        "/data/grants",
        json={
            "grantee": "city-hrss",
            "entity": "person",
            "fields": ["id_number", "name"],
            "purpose": PURPOSE,
            "valid_until": "2099-12-31",
        },
        headers=platform["officer"],
    )
    assert grant.status_code == 201, grant.text
    read = client.get(
        "/data/entities/person",
        params={"purpose": PURPOSE, "key": PEOPLE[1]},
        headers=platform["hrss"],
    )
    assert read.status_code == 200 and read.json()["audit_seq"] is not None

    # a department's key (not a data officer) reads neither the audit log nor the grants
    for path in ("/data/audit/log", "/data/grants"):
        assert client.get(path, headers=platform["hrss"]).status_code == 403, path
    # the data officers of the departments involved see them; another department's officer does not
    hrss_log = client.get("/data/audit/log", headers=platform["hrss_officer"]).json()
    assert [r["actor"].split(" ")[0] for r in hrss_log] == ["city-hrss"]
    assert client.get("/data/audit/log", headers=platform["commerce_officer"]).json() == []
    assert len(client.get("/data/grants", headers=platform["hrss_officer"]).json()) == 1
    assert len(client.get("/data/grants", headers=platform["officer"]).json()) == 1  # its grantor
    assert client.get("/data/grants", headers=platform["commerce_officer"]).json() == []
    # the system administrator sees everything
    assert len(client.get("/data/audit/log", headers=platform["admin"]).json()) == len(hrss_log)
    assert len(client.get("/data/grants", headers=platform["admin"]).json()) == 1
    # and the audit record names the person by digest, never by number
    assert PEOPLE[1] not in str(hrss_log)


def test_an_id_number_in_the_query_string_never_reaches_the_access_log(
    platform: dict, caplog: pytest.LogCaptureFixture
) -> None:
    """uvicorn logs `client - "GET target HTTP/1.1" status`; create_app filters the target."""
    log = logging.getLogger("uvicorn.access")
    target = f"/data/entities/person?purpose=x&key={PEOPLE[2]}&api_key=zx_secret&note={PEOPLE[3]}"
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        log.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", target, "1.1", 200)
    (message,) = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert PEOPLE[2] not in message and PEOPLE[3] not in message and "zx_secret" not in message
    assert "/data/entities/person?purpose=x&key=***" in message
    assert f"{PEOPLE[3][:4]}**********{PEOPLE[3][-4:]}" in message


def test_the_access_log_of_a_real_server_holds_no_id_number(home: Path) -> None:
    """End to end: uvicorn in a subprocess, a request with `?key=<身份证号>`, its log read back."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = (
        "import uvicorn; from zhixiang.api import create_app; "
        f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='info')"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}/data/catalog?entity=person&key={PEOPLE[4]}"
        deadline = time.monotonic() + 240  # a loaded machine may take long to import the app
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    assert response.status == 200
                break
            except OSError:
                time.sleep(0.2)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "Application startup complete" in output, output[-2000:]
    assert "GET /data/catalog?entity=person&key=***" in output
    assert PEOPLE[4] not in output


def test_the_quality_page_withholds_small_counts_too(platform: dict) -> None:
    """The workbench's 数据质量 page (leaders read it) withholds what the API withholds: the one
    invalid 户籍地 is a count of 1 person, shown as blank, not as 1."""
    response = platform["client"].get("/app/data/quality", headers=platform["officer"])
    assert response.status_code == 200, response.text
    row = next(r for r in response.text.split("<tr>") if "<td>household_region</td>" in r)
    cells = re.findall(r"<td>([^<]*)</td>", row)
    assert cells[2:5] == ["household_region", cells[3], ""], cells  # filled shown, invalid withheld
    assert int(cells[3]) >= 5
