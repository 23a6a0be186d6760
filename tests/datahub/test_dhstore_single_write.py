"""The single-write import (entity table straight from the validation query, snapshot a view) gives
exactly what the snapshot-then-rebuild path gives: the same entity rows, the same quarantine, on the
demo departments' extracts (with their injected bad rows) and on random corruptions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import yaml

import zhixiang.datahub._hub as hub
from zhixiang.catalog import load_catalog
from zhixiang.datahub import import_sources, list_imports, load_mapping, open_warehouse
from zhixiang.demo import generate_enterprises
from zhixiang.demo.departments import write_department_extracts

_GARBAGE = ["-5", "abc", "１２３", "2019-02-30", "", "N/A", "是的", "9" * 30, "1,234.5万", " 42 "]


def _corrupted_csv(folder: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    table = generate_enterprises(600, seed=seed)
    columns = {}
    for name in table.column_names:
        values = table[name].cast(pa.string()).to_pylist()
        for i in rng.choice(len(values), size=25, replace=False):
            values[i] = str(rng.choice(_GARBAGE))
        columns[name] = values
    codes = columns["credit_code"]
    for i in rng.choice(len(codes), size=5, replace=False):  # duplicate keys
        codes[i] = codes[(i + 1) % len(codes)]
    folder.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(pa.table(columns), folder / "e.csv")
    mapping = {
        "source": "random",
        "department": "统计局",
        "entity": "enterprise",
        "format": "csv",
        "path": str(folder / "e.csv"),
        "key": "credit_code",
        "columns": {f.name: f.name for f in load_catalog("enterprise").fields},
    }
    (folder / "m.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True), "utf-8")
    return folder / "m.yaml"


def _outcome(url: str, mapping_paths: list[Path], single: bool, monkeypatch) -> tuple:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(hub, "SINGLE_WRITE", single)
    with open_warehouse(url, write=True) as wh:
        for path in mapping_paths:  # one at a time: each kind has one source
            import_sources(wh, [load_mapping(path)])
        entity = wh.arrow("SELECT * FROM enterprise ORDER BY credit_code").to_pylist()
        quarantine = wh.arrow(
            "SELECT source, row_number, field, reason, value, record FROM dh_quarantine "
            "ORDER BY source, row_number, field, reason"
        ).to_pylist()
        history = [
            (r["source"], r["status"], r["rows_loaded"], r["rows_quarantined"])
            for r in list_imports(wh, history=True).to_pylist()
        ]
    return entity, quarantine, history


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_single_write_equals_rebuild_on_random_corruptions(
    tmp_path: Path, monkeypatch, seed: int
) -> None:  # type: ignore[no-untyped-def]
    mapping = _corrupted_csv(tmp_path / "in", seed)
    fast = _outcome(f"duckdb://{tmp_path / 'fast.duckdb'}", [mapping, mapping], True, monkeypatch)
    slow = _outcome(f"duckdb://{tmp_path / 'slow.duckdb'}", [mapping, mapping], False, monkeypatch)
    assert fast[1], "the corruptions must quarantine something"
    assert fast == slow


def test_single_write_equals_rebuild_on_the_demo_extracts(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    extracts = write_department_extracts(generate_enterprises(120, seed=5), tmp_path / "in")
    csv_like = [p for p in extracts.mappings if load_mapping(p).format in ("csv", "parquet")]
    for path in csv_like:
        fast = _outcome(
            f"duckdb://{tmp_path / (path.stem + 'f.duckdb')}", [path], True, monkeypatch
        )
        slow = _outcome(
            f"duckdb://{tmp_path / (path.stem + 's.duckdb')}", [path], False, monkeypatch
        )
        assert fast == slow, path.name
    assert any(
        _outcome(f"duckdb://{tmp_path / (p.stem + 'q.duckdb')}", [p], True, monkeypatch)[1]
        for p in csv_like
    ), "the demo's bad rows are quarantined"


def test_a_single_source_kind_is_written_once_and_old_snapshots_are_pruned(tmp_path: Path) -> None:
    mapping = load_mapping(_corrupted_csv(tmp_path / "in", 4))
    with open_warehouse(f"duckdb://{tmp_path / 'w.duckdb'}", write=True) as wh:
        for _ in range(4):
            import_sources(wh, [mapping], snapshots_keep=1)
        history = list_imports(wh, history=True).to_pylist()
        snapshots = dict(wh.rows("SELECT import_id, snapshot FROM dh_imports"))
        views = {v for (v,) in wh.rows("SELECT view_name FROM duckdb_views() WHERE NOT internal")}
        tables = {t for (t,) in wh.rows("SELECT table_name FROM duckdb_tables()")}
        current = next(h["import_id"] for h in history if h["status"] == "current")
        assert snapshots[current] in views  # the current snapshot is a view of the entity table
        kept = [i for i, s in snapshots.items() if s is not None and i != current]
        assert len(kept) == 1 and snapshots[kept[0]] in tables  # one previous, a table of its own
        assert sum(s is None for s in snapshots.values()) == 2  # the older two pruned
        previous_rows = wh.rows(f"SELECT count(*) FROM {snapshots[kept[0]]}")[0][0]
        assert previous_rows == wh.rows("SELECT count(*) FROM enterprise")[0][0]
        indexes = wh.rows("SELECT index_name, table_name FROM duckdb_indexes()")
        assert ("enterprise_by_key", "enterprise") in indexes  # the calculator's probe
        entity = wh.arrow("SELECT * FROM enterprise LIMIT 0").schema
        assert entity.equals(load_catalog("enterprise").arrow_schema())  # the catalog's, exactly
