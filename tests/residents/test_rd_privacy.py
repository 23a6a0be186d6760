"""Residents read through the data hub stay masked unless a grant says clear, and every read is audited.

These are the tests of privacy rules R1–R4 in scripts/privacy_rules.py: remove a rule and one fails.
"""

from __future__ import annotations

import datetime as dt
from datetime import date
from pathlib import Path

import pytest

from zhixiang.datahub import (
    AccessDenied,
    Warehouse,
    audit_records,
    create_grant,
    import_sources,
    load_mapping,
    read_entities,
)
from zhixiang.demo import generate_residents
from zhixiang.demo.resident_sources import write_resident_extracts

PURPOSE = "最低生活保障审核"


@pytest.fixture
def residents_wh(wh: Warehouse, tmp_path: Path) -> Warehouse:
    residents = generate_residents(200, seed=9, reference=date(2026, 12, 1))
    extracts = write_resident_extracts(residents, tmp_path / "x", seed=9)
    import_sources(wh, [load_mapping(p) for p in extracts.mappings])
    return wh


def _grant(wh: Warehouse, entity: str, fields: list[str], clear: bool = False) -> None:
    create_grant(
        wh,
        grantee="民政局",
        entity=entity,
        fields=fields,
        purpose=PURPOSE,
        valid_until=dt.date.today() + dt.timedelta(days=30),
        clear=clear,
    )


def test_person_names_and_id_numbers_are_masked_by_default_and_the_read_audited(
    residents_wh: Warehouse,
) -> None:
    _grant(residents_wh, "person", ["id_number", "name", "monthly_income", "disability_level"])
    read = read_entities(residents_wh, "person", reader="民政局", purpose=PURPOSE, limit=50)
    rows = read.table.to_pylist()
    assert len(rows) == 50
    for row in rows:
        assert row["id_number"][4:14] == "*" * 10 and len(row["id_number"]) == 18
        assert len(row["name"]) >= 2 and set(row["name"][1:]) == {"*"}
        assert row["monthly_income"] in ("***", None) and row["disability_level"] == "***"
    assert set(read.masked) == {"id_number", "name", "monthly_income", "disability_level"}
    (record,) = [r for r in audit_records(residents_wh).to_pylist() if r["seq"] == read.audit_seq]
    assert record["entity"] == "person" and record["rows"] == 50 and "民政局" in record["actor"]


def test_household_member_id_numbers_are_masked_and_audited(residents_wh: Warehouse) -> None:
    _grant(residents_wh, "household_member", ["household_id", "id_number", "role"])
    read = read_entities(residents_wh, "household_member", reader="民政局", purpose=PURPOSE)
    assert read.table.num_rows > 100
    assert all(r["id_number"][4:14] == "*" * 10 for r in read.table.to_pylist())
    assert read.audit_seq is not None


def test_a_clear_grant_shows_the_number_and_no_grant_shows_nothing(residents_wh: Warehouse) -> None:
    with pytest.raises(AccessDenied):
        read_entities(residents_wh, "person", reader="民政局", purpose=PURPOSE)
    _grant(residents_wh, "person", ["id_number"], clear=True)
    read = read_entities(residents_wh, "person", reader="民政局", purpose=PURPOSE, limit=5)
    assert all("*" not in r["id_number"] for r in read.table.to_pylist())
    assert read.audit_seq is not None
