"""Cells with a blank at either end are trimmed only on the rows a per-row test picks out: the
outcome must be the reference reader's on cells padded every way (spaces, tabs, full-width blanks,
quoted line breaks at either end, padded placeholders), next to cells that hold the row test's own
separator character, and on rows where the padded cell is the first or last non-empty one."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
from test_imports_csv_agreement import _arrow_extract, _mapping, _outcome

from zhixiang.datahub import load_mapping, read_extract
from zhixiang.datahub._sources import ROW
from zhixiang.demo import generate_enterprises

_PADS = [" {}", "{} ", "\t{}", "{}\t", "\u3000{}", "{}\u3000", "\n{}", "{}\n", " {} ", "\r\n{}"]
_ODD = ["a\x01 b", "\x01", " \x01", "\x01 ", "-", " - ", "N/A\u3000", "", "\u3000"]


def _without_row(record: str | None) -> dict:
    fields = json.loads(record or "{}")
    fields.pop(ROW, None)
    return fields


def _unnumbered(outcome: tuple[list, list, int]) -> tuple[list, list, int]:
    good, quarantine, rows_read = outcome
    rows = sorted(str({k: v for k, v in r.items() if k != ROW}) for r in good)
    bad = sorted(
        str((q["field"], q["reason"], q["value"], _without_row(q["record"]))) for q in quarantine
    )
    return rows, bad, rows_read


def test_padded_cells_agree_with_the_reference_reader(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    table = generate_enterprises(400, seed=11)
    # A text column first: a blank before the first cell is then seen in what is stored.
    names = ["name"] + [n for n in table.column_names if n != "name"]
    columns = {name: table[name].cast(pa.string()).to_pylist() for name in names}
    for name in names:
        values = columns[name]
        for i in rng.choice(len(values), size=40, replace=False):
            pad = str(rng.choice(_PADS))
            values[i] = pad.format(values[i] or "")
        for i in rng.choice(len(values), size=6, replace=False):
            values[i] = str(rng.choice(_ODD))
    rows = [list(r) for r in zip(*columns.values(), strict=True)]
    text_cells = [table[name].cast(pa.string()).to_pylist() for name in names]
    clean = [[v or "" for v in r] for r in zip(*text_cells, strict=True)]
    for i in range(20, 40):  # one padded cell in a clean row: the first one, or the last one
        rows[i] = list(clean[i])
        if i < 30:
            rows[i][0] = " " + rows[i][0]
        else:
            rows[i][-1] = rows[i][-1] + "\u3000"
    for row in rows[:20]:  # the padded cell is the only filled one, or the last one
        keep = int(rng.integers(0, len(names)))
        for j in range(len(names)):
            if j != keep and j != 0:
                row[j] = ""
        value = row[keep] or "1"
        row[keep] = f" {value}" if keep % 2 else f"{value}\u3000"
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(rows)
    (tmp_path / "e.csv").write_text(text.getvalue(), "utf-8")
    mapping = load_mapping(_mapping(tmp_path, "utf-8"))
    new = read_extract(mapping)
    assert new.csv is not None
    ours = _outcome(mapping, new)
    good, quarantine, rows_read = ours
    assert rows_read == 400 and len(good) > 20 and len(quarantine) > 30
    # The reference numbers records, not lines (quoted line breaks): compare all but the numbers.
    assert _unnumbered(ours) == _unnumbered(_outcome(mapping, _arrow_extract(mapping)))
    # Padded values were trimmed, not quarantined for their blanks.
    assert all(r["name"] is None or r["name"] == r["name"].strip() for r in good)
    padded = sum(1 for row in rows if row[names.index("name")] != row[names.index("name")].strip())
    assert padded > 20
