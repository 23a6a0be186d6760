"""DuckDB's own CSV reader (straight into the validation query) accepts the same rows and quarantines
the same (line, field, reason, value, record) as the Arrow reader it replaced, kept here as the
reference: on the demo departments' extracts, on random corruptions (UTF-8 with a BOM and CRLF, GBK),
and on ragged rows. Where the Arrow reader numbered records rather than lines (quoted line breaks,
blank lines), the expected lines are counted from the written file instead."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import yaml

from zhixiang.catalog import load_catalog
from zhixiang.datahub import load_mapping, read_extract, validate_extract
from zhixiang.datahub._mapping import Mapping
from zhixiang.datahub._sources import ROW, Extract, Problem, _decode
from zhixiang.demo import generate_enterprises
from zhixiang.demo.departments import write_department_extracts

_GARBAGE = ["-5", "abc", "１２３", "2019-02-30", "", "N/A", " N/A ", "\u3000-", "是的", "9" * 30]
_GARBAGE += ["1,234.5万", " 42 ", "null", '"quoted"', "否 ", "Ｙ", "—", "无数据"]


def _arrow_extract(mapping: Mapping) -> Extract:
    """The previous CSV reader (pyarrow's, cells as text, line = record number), as the reference."""
    data = _decode(Path(mapping.location).read_bytes(), mapping)
    first_line = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    header = next(csv.reader([first_line], delimiter=mapping.delimiter))
    bad: list[tuple[int, int, int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.actual_columns, row.expected_columns, row.text))
        return "skip"

    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(use_threads=False),
        parse_options=pacsv.ParseOptions(
            delimiter=mapping.delimiter, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={h: pa.string() for h in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    problems = [
        Problem(
            row=number,
            field="*",
            reason=f"列数不符: 应为{expected}列，实为{actual}列"
            + ("（文件可能被截断）" if actual < expected else ""),
            raw=text[:500],
        )
        for number, actual, expected, text in bad
    ]
    skipped = np.array(sorted(p.row for p in problems), dtype=np.int64)
    lines = np.arange(2, 2 + table.num_rows + len(skipped), dtype=np.int64)
    lines = lines[~np.isin(lines, skipped)]
    return Extract(table.append_column(ROW, pa.array(lines[: table.num_rows])), problems)


def _outcome(mapping: Mapping, extract: Extract) -> tuple[list, list, int]:
    validated = validate_extract(mapping, extract)
    assert validated.good is not None
    good = sorted(validated.good.to_pylist(), key=lambda r: r[ROW])
    quarantine = sorted(
        validated.quarantine.to_pylist(), key=lambda r: (r["row_number"], r["field"], r["reason"])
    )
    return good, quarantine, validated.rows_read


def _corrupted(folder: Path, seed: int, encoding: str, bom: bool, crlf: bool) -> Path:
    rng = np.random.default_rng(seed)
    table = generate_enterprises(500, seed=seed)
    columns = {}
    for name in table.column_names:
        values = table[name].cast(pa.string()).to_pylist()
        for i in rng.choice(len(values), size=8, replace=False):
            values[i] = str(rng.choice(_GARBAGE))
        columns[name] = values
    codes = columns["credit_code"]
    for i in rng.choice(len(codes), size=5, replace=False):  # duplicate keys
        codes[i] = codes[(i + 1) % len(codes)]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(columns)
    rows = [list(r) for r in zip(*columns.values(), strict=True)]
    for i in rng.choice(len(rows), size=4, replace=False):  # ragged rows
        rows[i] = rows[i][: rng.integers(1, len(columns))] if i % 2 else [*rows[i], "extra"]
    writer.writerows(rows)
    cut = text.getvalue()
    cut = cut[: len(cut) - rng.integers(5, 60)]  # truncated in the last record
    data = cut.encode(encoding)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "e.csv").write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return _mapping(folder, "auto" if encoding == "utf-8" and seed % 2 else encoding)


def _mapping(folder: Path, encoding: str) -> Path:
    doc = {
        "source": "random",
        "department": "统计局",
        "entity": "enterprise",
        "format": "csv",
        "path": str(folder / "e.csv"),
        "encoding": encoding,
        "key": "credit_code",
        "columns": {f.name: f.name for f in load_catalog("enterprise").fields},
    }
    (folder / "m.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return folder / "m.yaml"


@pytest.mark.parametrize(
    ("seed", "encoding", "bom", "crlf"),
    [(1, "utf-8", False, False), (2, "utf-8", True, True), (3, "gbk", False, True),
     (4, "gb18030", False, False), (5, "utf-8", False, True)],
)  # fmt: skip
def test_duckdb_reader_agrees_with_the_arrow_reader_on_random_corruptions(
    tmp_path: Path, seed: int, encoding: str, bom: bool, crlf: bool
) -> None:
    mapping = load_mapping(_corrupted(tmp_path, seed, encoding, bom, crlf))
    new = read_extract(mapping)
    assert new.csv is not None and new.table is None  # DuckDB reads the file itself
    ours, reference = _outcome(mapping, new), _outcome(mapping, _arrow_extract(mapping))
    good, quarantine, rows_read = ours
    assert len(good) > 250 and len(quarantine) > 50, "the corruptions must quarantine something"
    assert any("列数不符" in q["reason"] for q in quarantine)
    assert any("截断" in q["reason"] for q in quarantine)
    assert rows_read == 500
    assert ours == reference


def test_duckdb_reader_agrees_with_the_arrow_reader_on_the_demo_extracts(tmp_path: Path) -> None:
    extracts = write_department_extracts(generate_enterprises(150, seed=5), tmp_path / "in")
    csvs = [load_mapping(p) for p in extracts.mappings]
    csvs = [m for m in csvs if m.format == "csv"]
    assert csvs
    quarantined = 0
    for mapping in csvs:
        ours = _outcome(mapping, read_extract(mapping))
        assert ours == _outcome(mapping, _arrow_extract(mapping)), mapping.source
        quarantined += len(ours[1])
    assert quarantined, "the demo's bad rows are quarantined"


def test_line_numbers_count_quoted_line_breaks_and_blank_lines(tmp_path: Path) -> None:
    """DuckDB numbers records; a person looks for the line in an editor."""
    catalog = load_catalog("enterprise")
    names = [f.name for f in catalog.fields]
    good = (
        generate_enterprises(6, seed=9)
        .select(names)
        .cast(pa.schema([(n, pa.string()) for n in names]))
    )
    rows = [[v or "" for v in r.values()] for r in good.to_pylist()]
    rows[1][names.index("name")] = "两行的\n名称"  # a quoted line break
    rows[3][names.index("revenue")] = "-1"  # quarantined: negative
    rows[5][names.index("scale")] = "巨型"  # quarantined: not a scale
    lines = [",".join(names)]
    expected: dict[int, str] = {}
    physical: dict[str, int] = {}

    def start() -> int:  # the physical line the next entry starts on, counted in the text
        return "\n".join(lines).count("\n") + 2

    for i, row in enumerate(rows):
        if i == 2:
            lines.append("")  # a blank line
        if i == 4:
            expected[start()] = "*"
            lines.append(",".join(row[:3]))  # a ragged row
        physical[row[0]] = start()
        if i in (3, 5):
            expected[start()] = "revenue" if i == 3 else "scale"
        lines.append(",".join(f'"{v}"' for v in row))
    (tmp_path / "e.csv").write_text("\n".join(lines) + "\n", "utf-8")
    mapping = load_mapping(_mapping(tmp_path, "utf-8"))
    validated = validate_extract(mapping, read_extract(mapping))
    found = {r["row_number"]: r["field"] for r in validated.quarantine.to_pylist()}
    assert found == expected
    assert validated.good is not None
    codes, rows_at = validated.good["credit_code"].to_pylist(), validated.good[ROW].to_pylist()
    loaded = dict(zip(codes, rows_at, strict=True))
    assert loaded == {code: physical[code] for code in loaded} and len(loaded) == 4


def test_a_gb18030_file_with_an_ascii_header_is_transcoded_when_auto(tmp_path: Path) -> None:
    """The header reads as UTF-8; DuckDB meets the first GB18030 name further down and the file is
    read again, transcoded, with the same outcome as the reference."""
    names = [f.name for f in load_catalog("enterprise").fields]
    out = io.BytesIO()
    pacsv.write_csv(generate_enterprises(3000, seed=3).select(names), out)
    assert out.getvalue().split(b"\n", 1)[0].isascii()
    (tmp_path / "e.csv").write_bytes(out.getvalue().decode("utf-8").encode("gb18030"))
    mapping = load_mapping(_mapping(tmp_path, "auto"))
    ours = _outcome(mapping, read_extract(mapping))
    assert len(ours[0]) + len({q["row_number"] for q in ours[1]}) == 3000
    assert any("（" in r["name"] for r in ours[0])  # Chinese names decoded
    assert ours == _outcome(mapping, _arrow_extract(mapping))
