"""DuckDB's reader parses number, date and yes/no columns itself (`_reader_types`): the import accepts,
stores and quarantines exactly what the all-text path does, on clean files, on a few bad cells (those
rows are parsed from their text), on many (the file is read again as text), on records across lines,
and on cells at the edges of what the reader's casts accept."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import yaml

from zhixiang.catalog import FieldType, load_catalog
from zhixiang.datahub import _validate, load_mapping, read_extract, validate_extract
from zhixiang.datahub._sources import ROW
from zhixiang.demo import generate_enterprises

# Cells either side of what DuckDB's DECIMAL and DATE casts accept, and what the text rules clean up.
_NUMBERS = [
    " 12",
    "12 ",
    "+12",
    "1e5",
    "1E-2",
    ".5",
    "5.",
    "１２",
    "1,234",
    "0x10",
    "inf",
    "nan",
    "1_000",
    "--1",
    "-0",
    "1234567890123",
    "999999999999.9999999",
    "0.1234565",
    "1.2.3",
    "12abc",
    "\u300012",
    "12\t",
    "-",
    "  ",
    "1 000",
    "-.5",
    "00012",
    "1e400",
    "12元",
    "-1",
]
_DATES = ["2024-01-31", " 2024-01-31", "2024-01-31 ", "2024-1-5", "2024-02-30", "20240105",
          "2024/01/05", "2024-01-05 00:00:00", "2024-01-05T00:00", "24-01-05", "2024-13-01",
          "0001-01-01", "2024年1月5日", "２０２４-01-05", "2024- 1- 5", "1899-12-31", "2099-01-01"]  # fmt: skip
_BOOLS = ["true", "FALSE", "t", "F", "1", "0", "y", "N", "yes", "No", "tRuE", " true", "on", "01",
          "1.0", "是", "否", "有", "无", "√", "×", "Ｙ", "-"]  # fmt: skip
_TYPED_KINDS = (
    FieldType.MONEY,
    FieldType.DECIMAL,
    FieldType.INTEGER,
    FieldType.DATE,
    FieldType.BOOL,
)


def _write(folder: Path, rows: int, bad_rows: int, seed: int, quoted_break: bool = False) -> Path:
    """Generated enterprises with edge cells put into the number and date columns of `bad_rows` rows."""
    rng = np.random.default_rng(seed)
    catalog = load_catalog("enterprise")
    table = generate_enterprises(rows, seed=seed)
    columns = {name: table[name].cast(pa.string()).to_pylist() for name in table.column_names}
    typed = [f.name for f in catalog.fields if f.type in _TYPED_KINDS]
    for i in rng.choice(np.arange(40, rows), size=bad_rows, replace=False):  # the head stays clean
        name = str(rng.choice(typed))
        kind = catalog[name].type
        pool = _DATES if kind is FieldType.DATE else _BOOLS if kind is FieldType.BOOL else _NUMBERS
        columns[name][i] = str(rng.choice(pool))
    if quoted_break:
        columns["name"][rows - 3] = "第一行\n第二行"
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(zip(*columns.values(), strict=True))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "e.csv").write_text(text.getvalue(), "utf-8")
    doc = {
        "source": "edges",
        "department": "统计局",
        "entity": "enterprise",
        "format": "csv",
        "path": str(folder / "e.csv"),
        "key": "credit_code",
        "columns": {f.name: f.name for f in catalog.fields},
    }
    (folder / "m.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return folder / "m.yaml"


def _outcome(mapping_path: Path, typed: bool, monkeypatch: pytest.MonkeyPatch) -> tuple:
    monkeypatch.setattr(_validate, "READER_TYPES", typed)
    monkeypatch.setattr(_validate, "_TRIAL_BYTES", 4096)  # the first ~15 rows: clean ones
    mapping = load_mapping(mapping_path)
    validated = validate_extract(mapping, read_extract(mapping))
    assert validated.good is not None
    good = sorted(validated.good.to_pylist(), key=lambda r: r[ROW])
    quarantine = sorted(
        validated.quarantine.to_pylist(), key=lambda r: (r["row_number"], r["field"], r["reason"])
    )
    return good, quarantine, validated.rows_read


def _scans(monkeypatch: pytest.MonkeyPatch, csv_path: Path) -> list[dict[str, str]]:
    """The reader's types of every scan of the extract itself (a spy on `csv_scan`)."""
    scans: list[dict[str, str]] = []
    real = _validate.csv_scan

    def spy(csv_file, rejects, nulls=None, numbered=True, types=None):  # type: ignore[no-untyped-def]
        if csv_file.path == csv_path:
            scans.append(dict(types or {}))
        return real(csv_file, rejects, nulls, numbered, types)

    monkeypatch.setattr(_validate, "csv_scan", spy)
    return scans


def _retyped_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The lines handed to the text parse after the typed scan (a spy on `raw_records`)."""
    calls: list[list[int]] = []
    real = _validate.raw_records

    def spy(csv_file, lines):  # type: ignore[no-untyped-def]
        calls.append(list(lines))
        return real(csv_file, lines)

    monkeypatch.setattr(_validate, "raw_records", spy)
    return calls


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_few_uncastable_cells_are_parsed_from_their_text_with_the_same_outcome(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping_path = _write(tmp_path, rows=1200, bad_rows=30, seed=seed)
    text = _outcome(mapping_path, False, monkeypatch)
    calls = _retyped_calls(monkeypatch)
    scans = _scans(monkeypatch, tmp_path / "e.csv")
    typed = _outcome(mapping_path, True, monkeypatch)
    assert len(scans) == 1 and "revenue" in scans[0], "one scan, numbers parsed by the reader"
    assert calls and calls[0], "rows the reader could not cast went to the text parse"
    assert typed == text
    good, quarantine, rows_read = typed
    assert rows_read == 1200 and len(good) > 1100
    assert quarantine, "some edge cells are bad by the text rules too"
    loaded = {r[ROW] for r in good}
    assert set(calls[0]) & loaded, "and some of them are good ones, loaded"


def test_many_uncastable_cells_read_the_file_again_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping_path = _write(tmp_path, rows=400, bad_rows=200, seed=4)
    text = _outcome(mapping_path, False, monkeypatch)
    scans = _scans(monkeypatch, tmp_path / "e.csv")
    assert _outcome(mapping_path, True, monkeypatch) == text
    assert len(scans) == 2 and scans[0] and not scans[1], "typed first, then all as text"


def test_records_across_lines_with_an_uncastable_cell_agree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping_path = _write(tmp_path, rows=300, bad_rows=5, seed=5, quoted_break=True)
    text = _outcome(mapping_path, False, monkeypatch)
    good, _quarantine, rows_read = text
    assert rows_read == 300 and good[-1][ROW] == 302  # header, 300 records, one of two lines
    scans = _scans(monkeypatch, tmp_path / "e.csv")
    assert _outcome(mapping_path, True, monkeypatch) == text
    # typed first, then as text (and the quarantined rows' raw cells by one more text scan)
    assert len(scans) >= 2 and scans[0] and not any(scans[1:]), "across lines: read as text"


def test_the_reader_parses_the_number_and_date_columns_whose_first_lines_cast(
    tmp_path: Path,
) -> None:
    mapping_path = _write(tmp_path, rows=100, bad_rows=0, seed=6)
    lines = (tmp_path / "e.csv").read_text("utf-8").splitlines()
    header = next(csv.reader([lines[0]]))
    cells = next(csv.reader([lines[1]]))
    cells[header.index("revenue")] = "1,234"  # a thousands separator in the file's first row
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    (tmp_path / "e.csv").write_text(
        "\n".join([lines[0], buffer.getvalue().rstrip("\n"), *lines[2:]]) + "\n", "utf-8"
    )
    mapping = load_mapping(mapping_path)
    extract = read_extract(mapping)
    catalog = mapping.catalog
    slots = [(f"c{i}", catalog[cm.field], cm, cm.column) for i, cm in enumerate(mapping.columns)]
    types = _validate._reader_types(duckdb.connect(), mapping, slots, extract, "_t_")
    expected = {f.name for f in catalog.fields if f.type in _TYPED_KINDS} - {"revenue"}
    assert set(types) == expected
    assert types["established_on"] == "DATE" and types["employees"] == "DECIMAL(18,6)"
