"""A CLI import while the server runs never breaks the server (issue 7, finding 6 / build item 5):
a real `zhixiang data import` subprocess imports into a copy of the warehouse and swaps it in, while
the API answers every data-hub and policy request 200 (or 503 with Retry-After), never 500; after
the swap the API serves the new data."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import yaml
from fastapi.testclient import TestClient

from zhixiang.catalog import load_catalog
from zhixiang.datahub import WarehouseBusy, import_into, load_mapping, open_warehouse
from zhixiang.demo import generate_enterprises


def _extract(folder: Path, rows: int, seed: int) -> tuple[Path, pa.Table]:
    table = generate_enterprises(rows, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, folder / "enterprises.csv")
    mapping = {
        "source": "bench",
        "department": "市场监管局",
        "entity": "enterprise",
        "format": "csv",
        "path": str(folder / "enterprises.csv"),
        "key": "credit_code",
        "columns": {f.name: f.name for f in load_catalog("enterprise").fields},
    }
    (folder / "bench.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True), "utf-8")
    return folder / "bench.yaml", table


def test_cli_import_while_serving_answers_200_or_503_and_then_the_new_data(home: Path) -> None:
    from zhixiang.access import open_access, operator
    from zhixiang.api import create_app
    from zhixiang.config import load_settings

    settings = load_settings()
    old_mapping, old = _extract(home / "old", 500, seed=3)
    import_into(settings.warehouse_url, [load_mapping(old_mapping)])
    new_mapping, new = _extract(home / "new", 40_000, seed=4)
    new_only = next(
        c
        for c in new["credit_code"].to_pylist()[::-1]
        if c not in set(old["credit_code"].to_pylist())
    )

    access = open_access(settings.access_db)
    root = operator("test")
    staff, _ = access.create_key(root, ["handler"], label="人社", department="city-hrss")
    officer, _ = access.create_key(root, ["data_officer"], label="数据", department="city-data")
    client = TestClient(create_app(settings))
    key, data_officer = {"X-API-Key": staff}, {"X-API-Key": officer}
    known = old["credit_code"][0].as_py()
    assert client.get(f"/policies/enterprises/{known}", headers=key).status_code == 200
    assert client.get(f"/policies/enterprises/{new_only}", headers=key).status_code == 404

    cli = Path(sys.executable).with_name("zhixiang")
    importer = subprocess.Popen(
        [str(cli), "data", "import", str(new_mapping)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    statuses: dict[str, list[int]] = {}
    grant = {
        "grantee": "city-hrss",
        "entity": "enterprise",
        "fields": ["revenue"],
        "purpose": "稳岗返还",
        "valid_until": "2099-01-01",
    }
    requests = [
        ("sources", lambda: client.get("/data/sources", headers=data_officer)),
        ("quality", lambda: client.get("/data/quality", headers=data_officer)),
        (
            "entities",
            lambda: client.get(
                "/data/entities/enterprise", params={"purpose": "稳岗返还", "limit": 3}, headers=key
            ),
        ),
        ("explain", lambda: client.get(f"/policies/enterprises/{known}", headers=key)),
        ("summary", lambda: client.get("/policies/summary", headers=key)),
        ("audit", lambda: client.get("/data/audit/verify", headers=data_officer)),
        ("grant", lambda: client.post("/data/grants", json=grant, headers=data_officer)),
    ]
    deadline = time.monotonic() + 240
    while importer.poll() is None and time.monotonic() < deadline:
        for name, call in requests:
            response = call()
            statuses.setdefault(name, []).append(response.status_code)
            if response.status_code == 503:
                assert int(response.headers["Retry-After"]) > 0
            assert response.status_code < 500 or response.status_code == 503, (
                name,
                response.status_code,
                response.text,
            )
    output = importer.communicate(timeout=60)[0].decode()
    assert importer.returncode == 0, output
    seen = {code for codes in statuses.values() for code in codes}
    assert sum(len(c) for c in statuses.values()) >= len(requests), statuses  # it served meanwhile
    assert seen <= {200, 201, 404, 503}, statuses
    assert 500 not in seen
    # The new file is what the server answers from now on.
    sources = client.get("/data/sources", headers=data_officer).json()
    assert [s["rows_loaded"] for s in sources if s["source"] == "bench"] == [40_000]
    assert client.get(f"/policies/enterprises/{new_only}", headers=key).status_code == 200
    with open_warehouse(settings.warehouse_url) as wh:
        assert wh.rows("SELECT count(*) FROM enterprise")[0][0] == 40_000


def test_a_second_import_at_the_same_time_is_refused_busy(home: Path) -> None:
    from zhixiang.config import load_settings
    from zhixiang.datahub._warehouse import duckdb_file, publish_duckdb

    settings = load_settings()
    mapping, _ = _extract(home / "a", 50, seed=1)
    path = duckdb_file(settings.warehouse_url)
    assert path is not None
    with publish_duckdb(path), pytest.raises(WarehouseBusy, match="另一个导入"):
        import_into(settings.warehouse_url, [load_mapping(mapping)])


def test_writes_wait_for_no_import_and_are_never_lost(home: Path) -> None:
    """An audit record written while an import is between copy and swap would vanish with the old
    file: it is refused (503) instead, and one written after the swap lands in the new file."""
    from zhixiang.config import load_settings
    from zhixiang.datahub import append_audit, verify_audit
    from zhixiang.datahub._warehouse import duckdb_file, publish_duckdb

    settings = load_settings()
    path = duckdb_file(settings.warehouse_url)
    assert path is not None
    mapping, _ = _extract(home / "a", 50, seed=1)
    import_into(settings.warehouse_url, [load_mapping(mapping)])
    audit = {"actor": "人社局", "purpose": "p", "entity": "person", "fields": ["name"], "rows": 1}
    with open_warehouse(settings.warehouse_url) as wh:
        append_audit(wh, **audit)  # type: ignore[arg-type]
    with publish_duckdb(path) as staged:
        with open_warehouse(settings.warehouse_url) as wh, pytest.raises(WarehouseBusy):
            append_audit(wh, **audit)  # type: ignore[arg-type]
        with open_warehouse(f"duckdb://{staged}") as wh:
            wh.execute("CREATE TABLE marker AS SELECT 1 AS x")
    with open_warehouse(settings.warehouse_url) as wh:
        assert wh.has_table("marker")  # the swapped-in copy
        append_audit(wh, **audit)  # type: ignore[arg-type]
        result = verify_audit(wh)
        assert result.ok and result.records == 2, result


def test_postgres_imports_in_place(postgres_url: str, home: Path) -> None:
    import uuid

    import psycopg

    schema = f"dh_test_{uuid.uuid4().hex[:12]}"
    url = f"{postgres_url}?schema={schema}"
    mapping, _ = _extract(home / "a", 80, seed=1)
    try:
        report = import_into(url, [load_mapping(mapping)])
        assert report.entity_rows == {"enterprise": 80}
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
