"""Finding 3 (issue 7): no file outside the package or the data folder is read, or quoted, by the API.

`GET /data/catalog?entity=../../…/x` used to return a YAML file outside the package, without
authentication; `POST /data/imports` quoted lines of any server file in its errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from zhixiang.access import open_access, operator
from zhixiang.api import create_app
from zhixiang.config import load_settings

SECRET_LINE = "root:$6$saltsalt$notarealhash:19000:0:99999:7:::"


@pytest.fixture
def client(home: Path) -> Iterator[tuple[TestClient, dict[str, str], Path]]:
    settings = load_settings()
    access = open_access(settings.access_db)
    secret, _ = access.create_key(
        operator("t"), ["data_officer"], label="数据", department="city-data"
    )
    access.close()
    outside = home / "outside"
    outside.mkdir()
    (outside / "x.yaml").write_text(f"key: id\nfields: []\n# {SECRET_LINE}\n", "utf-8")
    (outside / "shadow").write_text(f"{SECRET_LINE}\nbin:*:19000:0:99999:7:::\n", "utf-8")
    with TestClient(create_app(settings)) as http:
        yield http, {"X-API-Key": secret}, home


@pytest.mark.parametrize(
    "entity",
    [
        "planet",
        "../outside/x",
        "../../outside/x",
        "/etc/passwd",
        "..%2F..%2Fx",
        "person/../house",
        "",
    ],
)
def test_an_unknown_catalog_entity_is_404(client: tuple, entity: str) -> None:
    http, _, _ = client
    response = http.get("/data/catalog", params={"entity": entity})
    if entity == "":  # no entity named: the whole catalog
        assert response.status_code == 200
        return
    assert response.status_code == 404, response.text
    assert SECRET_LINE not in response.text and "fields" not in response.text


def test_the_known_entities_still_list_their_fields(client: tuple) -> None:
    http, _, _ = client
    fields = http.get("/data/catalog", params={"entity": "person"}).json()
    assert {f["entity"] for f in fields} == {"person"} and len(fields) > 5


def test_imports_read_mapping_files_only_under_the_data_folder(client: tuple) -> None:
    http, officer, home = client
    for given in (
        str(home / "outside" / "shadow"),
        "../outside/shadow",
        "/etc/passwd",
        str(home / "data" / ".." / "outside" / "shadow"),
    ):
        response = http.post("/data/imports", json={"mappings": [given]}, headers=officer)
        assert response.status_code == 403, (given, response.text)
        assert "数据目录" in response.json()["detail"]
        assert SECRET_LINE not in response.text and "bin:*" not in response.text


def test_a_mapping_in_the_data_folder_cannot_point_at_a_file_outside_it(client: tuple) -> None:
    http, officer, home = client
    folder = home / "data" / "evil"
    folder.mkdir(parents=True)
    (folder / "m.yaml").write_text(
        yaml.safe_dump(
            {
                "source": "x",
                "department": "人社局",
                "entity": "enterprise",
                "format": "csv",
                "path": "../../outside/shadow",
                "key": "root",
                "columns": {"root": "credit_code"},
            }
        ),
        "utf-8",
    )
    (folder / "link.yaml").symlink_to(home / "outside" / "shadow")
    for name in ("evil/m.yaml", "evil/link.yaml"):
        response = http.post("/data/imports", json={"mappings": [name]}, headers=officer)
        assert response.status_code == 403, response.text
        assert SECRET_LINE not in response.text


def test_an_import_of_a_missing_or_non_utf8_mapping_is_a_clear_4xx(client: tuple) -> None:
    http, officer, home = client
    (home / "data").mkdir(exist_ok=True)
    (home / "data" / "gbk.yaml").write_bytes("source: 人社局\n".encode("gbk"))
    missing = http.post("/data/imports", json={"mappings": ["nope.yaml"]}, headers=officer)
    assert missing.status_code == 404 and "nope.yaml" in missing.json()["detail"]
    gbk = http.post("/data/imports", json={"mappings": ["gbk.yaml"]}, headers=officer)
    assert gbk.status_code == 422 and "UTF-8" in gbk.json()["detail"], gbk.text
    for bad in ("a\x00b.yaml", "a" * 5000):
        refused = http.post("/data/imports", json={"mappings": [bad]}, headers=officer)
        assert refused.status_code == 422, refused.text
