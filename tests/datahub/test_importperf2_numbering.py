"""CSV records are numbered by the parsed table's rowid (the scan is materialised in file order):
over a file large enough for DuckDB to read in parallel pieces, every quarantined row and every
loaded row must carry its own line, as a window numbering (kept for connections that do not preserve
insertion order) gives it."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from test_imports_csv_agreement import _mapping

from zhixiang.datahub import load_mapping, read_extract, validate_extract
from zhixiang.datahub._sources import ROW
from zhixiang.demo import generate_enterprises

_ROWS = 300_000  # several of DuckDB's CSV buffers and row groups


def _outcome(mapping_path: Path, preserve: bool) -> tuple[dict[int, str], list[tuple]]:
    """(line → credit code of every loaded row, quarantine rows) on a 4-thread connection."""
    con = duckdb.connect()
    con.execute("SET threads = 4")
    con.execute(f"SET preserve_insertion_order = {str(preserve).lower()}")
    mapping = load_mapping(mapping_path)
    validated = validate_extract(mapping, read_extract(mapping), con)
    assert validated.good_query is not None
    loaded = dict(
        con.execute(f"SELECT {ROW}, credit_code FROM ({validated.good_query})").fetchall()
    )
    quarantine = sorted(
        (q["row_number"], q["field"], q["reason"], q["value"])
        for q in validated.quarantine.to_pylist()
    )
    con.close()
    return loaded, quarantine


def test_lines_are_the_files_own_in_parallel_reads(tmp_path: Path) -> None:
    table = generate_enterprises(_ROWS, seed=3)
    rng = np.random.default_rng(3)
    bad = np.sort(rng.choice(_ROWS, size=40, replace=False))
    revenue = table["revenue"].cast(pa.string()).to_numpy(zero_copy_only=False).astype(object)
    revenue[bad] = "-1"
    table = table.set_column(
        table.column_names.index("revenue"), "revenue", pa.array(revenue, pa.string())
    )
    pacsv.write_csv(table, tmp_path / "e.csv")
    mapping_path = _mapping(tmp_path, "utf-8")
    with (tmp_path / "e.csv").open(newline="", encoding="utf-8") as f:
        codes = {line: row[0] for line, row in enumerate(csv.reader(f), start=1) if line > 1}

    loaded, quarantine = _outcome(mapping_path, preserve=True)
    assert [q[0] for q in quarantine] == [int(i) + 2 for i in bad]  # line 1 is the header
    assert all(q[1] == "revenue" for q in quarantine)
    assert len(loaded) == _ROWS - len(bad)
    assert all(codes[line] == code for line, code in loaded.items())

    assert _outcome(mapping_path, preserve=False) == (loaded, quarantine)
