"""Finding 6 (issue 7): bad input to the data hub and policy routes is a clear 4xx, never a 500.

Negative limits reached DuckDB (`LIMIT -1`: a BinderException), an unknown catalog entity became a
FileNotFoundError, a non-UTF-8 mapping file a UnicodeDecodeError, far dates an OverflowError.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from zhixiang.access import open_access, operator
from zhixiang.api import create_app
from zhixiang.config import load_settings
from zhixiang.demo import generate_enterprises
from zhixiang.demo.departments import import_demo_sources


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    home = tmp_path_factory.mktemp("bad-input")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ZHIXIANG_HOME", str(home))
        env.setenv("ZHIXIANG_PASSWORD_HASH_MEMORY", "1024")
        env.setenv("ZHIXIANG_PASSWORD_HASH_ROUNDS", "1")
        for name in ("WAREHOUSE", "TICKETS_DB", "ACCESS_DB"):
            env.delenv(f"ZHIXIANG_{name}", raising=False)
        settings = load_settings()
        table = generate_enterprises(30, seed=4, reference=dt.date(2026, 6, 30))
        import_demo_sources(settings, table)
        access = open_access(settings.access_db)
        secret, _ = access.create_key(
            operator("t"), ["data_officer"], label="数据", department="city-data"
        )
        access.close()
        # raise_server_exceptions off: a 500 is seen as the status a client would get
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            yield {
                "client": client,
                "key": {"X-API-Key": secret},
                "code": table["credit_code"][0].as_py(),
                "home": home,
            }


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/data/quarantine", {"limit": -1}, 422),
        ("/data/quarantine", {"limit": 0}, 422),
        ("/data/audit/log", {"limit": -5}, 422),
        ("/data/audit/log", {"limit": 10**12}, 422),
        ("/data/catalog", {"entity": "planet"}, 404),
        ("/data/entities/planet", {"purpose": "p"}, 403),
        ("/data/entities/enterprise", {"purpose": "p", "limit": -1}, 422),
    ],
)
def test_bad_parameters_of_the_data_routes_are_4xx(
    api: dict, path: str, params: dict, status: int
) -> None:
    response = api["client"].get(path, params=params, headers=api["key"])
    assert response.status_code == status, response.text
    assert response.json()["detail"]


@pytest.mark.parametrize("as_of", ["9999-12-31", "0001-01-01", "1900-02-29", "2026-13-01"])
def test_dates_far_out_or_impossible_are_never_a_500(api: dict, as_of: str) -> None:
    client = api["client"]
    account = client.get(
        f"/policies/enterprises/{api['code']}", params={"as_of": as_of}, headers=api["key"]
    )
    assert account.status_code < 500, account.text
    calculated = client.post("/policies/calculate", json={"facts": {"欠税": False}, "as_of": as_of})
    assert calculated.status_code < 500, calculated.text


@pytest.mark.parametrize("until", ["9999-12-31", "0001-01-01", "10000-01-01"])
def test_grant_dates_out_of_range_are_refused_or_kept_never_a_500(api: dict, until: str) -> None:
    response = api["client"].post(
        "/data/grants",
        json={
            "grantee": "city-hrss",
            "entity": "enterprise",
            "fields": ["revenue"],
            "purpose": "日期边界",
            "valid_until": until,
        },
        headers=api["key"],
    )
    assert response.status_code in (201, 422), response.text


def test_a_non_utf8_mapping_file_is_a_422_naming_the_file(api: dict) -> None:
    folder = api["home"] / "data"
    folder.mkdir(exist_ok=True)
    (folder / "gbk-mapping.yaml").write_bytes("source: 人社局-人员\nentity: person\n".encode("gbk"))
    response = api["client"].post(
        "/data/imports", json={"mappings": ["gbk-mapping.yaml"]}, headers=api["key"]
    )
    assert response.status_code == 422
    assert "gbk-mapping.yaml" in response.json()["detail"] and "UTF-8" in response.json()["detail"]


def test_far_dates_on_the_public_open311_list_are_4xx(api: dict) -> None:
    client = api["client"]
    dates = client.get("/open311/v2/requests.json", params={"start_date": "99999-01-01T00:00:00Z"})
    assert 400 <= dates.status_code < 500
