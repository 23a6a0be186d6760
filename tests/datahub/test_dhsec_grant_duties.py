"""Finding 5 (issue 7): separation of duties for grants, and grantees that exist.

A data officer could grant its own department clear access to 身份证号, 低保 and 残疾等级; grants to
`""` or to a department nobody knows were accepted (and, named as the docs showed, never applied).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from zhixiang.access import Principal, PrincipalKind, Role, load_departments, open_access, operator
from zhixiang.api import create_app
from zhixiang.config import load_settings
from zhixiang.datahub import GrantError, create_grant, list_grants, open_warehouse
from zhixiang.errors import Forbidden

SENSITIVE = ["id_number", "low_income", "disability_level"]
UNTIL = dt.date(2099, 12, 31)


def _officer(department: str) -> Principal:
    return Principal(
        PrincipalKind.KEY,
        f"k-{department}",
        roles=frozenset({Role.DATA_OFFICER}),
        department=department,
    )


def test_nobody_grants_its_own_department(tmp_path: Path) -> None:
    with open_warehouse(f"duckdb://{tmp_path / 'w.duckdb'}") as wh:
        with pytest.raises(Forbidden, match="不能为本人或本部门"):
            create_grant(
                wh,
                grantee="city-data",
                entity="person",
                fields=SENSITIVE,
                purpose="自用",
                valid_until=UNTIL,
                clear=True,
                by=_officer("city-data"),
                directory=load_departments(),
            )
        # named by its Chinese short name, it is still the officer's own department
        with pytest.raises(Forbidden):
            create_grant(
                wh,
                grantee="人社局",
                entity="person",
                fields=SENSITIVE,
                purpose="自用",
                valid_until=UNTIL,
                by=_officer("city-hrss"),
                directory=load_departments(),
            )
        assert list_grants(wh) == []
        # another department's officer may: a second person decides
        grant = create_grant(
            wh,
            grantee="人社局",
            entity="person",
            fields=SENSITIVE,
            purpose="就业补贴",
            valid_until=UNTIL,
            by=_officer("city-data"),
            directory=load_departments(),
        )
        assert grant.grantee == "city-hrss"  # kept as the code a reader's key carries


@pytest.mark.parametrize("grantee", ["", "   ", "no-such-department", "不存在的局"])
def test_a_grantee_must_be_a_department_of_the_directory(tmp_path: Path, grantee: str) -> None:
    with (
        open_warehouse(f"duckdb://{tmp_path / 'w.duckdb'}") as wh,
        pytest.raises(GrantError, match="被授权方"),
    ):
        create_grant(
            wh,
            grantee=grantee,
            entity="enterprise",
            fields=["revenue"],
            purpose="p",
            valid_until=UNTIL,
            by=_officer("city-data"),
            directory=load_departments(),
        )


@pytest.fixture
def api(home: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    settings = load_settings()
    access = open_access(settings.access_db)
    root = operator("t")
    keys = {}
    for name, role, department in (
        ("data", "data_officer", "city-data"),
        ("hrss_officer", "data_officer", "city-hrss"),
        ("hrss", "handler", "city-hrss"),
    ):
        secret, _ = access.create_key(root, [role], label=name, department=department)
        keys[name] = {"X-API-Key": secret}
    access.close()
    with TestClient(create_app(settings)) as client:
        yield client, keys


def _grant(grantee: str, **extra: object) -> dict:
    return {
        "grantee": grantee,
        "entity": "person",
        "fields": SENSITIVE,
        "purpose": "就业补贴",
        "valid_until": "2099-12-31",
        "clear": True,
        **extra,
    }


def test_the_api_refuses_self_grants_and_unknown_grantees(api: tuple) -> None:
    client, keys = api
    own = client.post("/data/grants", json=_grant("city-hrss"), headers=keys["hrss_officer"])
    assert own.status_code == 403 and "本部门" in own.json()["detail"]
    for grantee in ("", "nobody", "   "):
        refused = client.post("/data/grants", json=_grant(grantee), headers=keys["data"])
        assert refused.status_code == 422, (grantee, refused.text)
    policy = client.post(
        "/data/grants", json=_grant("no-such-policy", grantee_kind="policy"), headers=keys["data"]
    )
    assert policy.status_code == 422 and "政策" in policy.json()["detail"]
    # a handler (not a data officer) grants nothing, not even to another department
    assert (
        client.post("/data/grants", json=_grant("city-data"), headers=keys["hrss"]).status_code
        == 403
    )
    assert client.get("/data/grants", headers=keys["data"]).json() == []

    made = client.post("/data/grants", json=_grant("人社局"), headers=keys["data"])
    assert made.status_code == 201 and made.json()["grantee"] == "city-hrss"
    assert made.json()["granted_by"].endswith(":city-data")
    # the grantee department's officer sees the grant made to it
    assert [
        g["grant_id"] for g in client.get("/data/grants", headers=keys["hrss_officer"]).json()
    ] == [made.json()["grant_id"]]
