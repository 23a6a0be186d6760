from __future__ import annotations

from datetime import date

import pyarrow as pa
from stdnum.cn import uscc

from zhixiang.catalog import load_catalog
from zhixiang.demo import generate_enterprises, iter_enterprises
from zhixiang.identity import XIAMEN_DISTRICTS


def test_generated_enterprises_follow_the_catalog_and_have_valid_unique_codes() -> None:
    table = pa.concat_tables(
        iter_enterprises(30_000, seed=1, reference=date(2026, 6, 30), chunk=7_000)
    )
    assert table.schema == load_catalog("enterprise").arrow_schema()
    codes = table["credit_code"].to_pylist()
    assert len(set(codes)) == len(codes) == 30_000
    assert all(uscc.is_valid(c) for c in codes[::97])
    assert set(table["region_code"].to_pylist()) == set(XIAMEN_DISTRICTS)
    assert all(
        code[2:8] == region
        for code, region in zip(codes, table["region_code"].to_pylist(), strict=True)
    )


def test_some_facts_are_missing_as_in_real_data_and_the_rest_is_plausible() -> None:
    table = generate_enterprises(20_000, seed=2, reference=date(2026, 6, 30))
    assert 0 < table["rd_expense"].null_count < 0.1 * table.num_rows
    assert table["credit_code"].null_count == 0
    scales = table["scale"].value_counts().to_pylist()
    counts = {s["values"]: s["counts"] for s in scales}
    assert counts["微型"] > counts["小型"] > counts["中型"] > counts["大型"]
    assert min(v for v in table["revenue"].to_pylist() if v is not None) > 0


def test_the_same_seed_gives_the_same_data() -> None:
    assert generate_enterprises(500, seed=3, reference=date(2026, 1, 1)).equals(
        generate_enterprises(500, seed=3, reference=date(2026, 1, 1))
    )
