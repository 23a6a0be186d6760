"""An entity reading its own record (the 企业服务 portal's 我的政策): one row, every field, clear, and
an audit record that names the entity only by its digest."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from zhixiang.datahub import (
    OWN_RECORD_PURPOSE,
    Warehouse,
    audit_records,
    entity_digest,
    import_sources,
    load_mapping,
    read_own_record,
)

PERSON = "350203199001011213"
OTHER = "11010519491231002X"


@pytest.fixture
def people(wh: Warehouse, tmp_path: Path) -> Warehouse:
    (tmp_path / "p.csv").write_text(
        f"身份证号,姓名,月工资\n{PERSON},张三,8000\n{OTHER},李四,9000\n", "utf-8"
    )
    mapping = {
        "source": "人社-人员",
        "department": "人社局",
        "entity": "person",
        "format": "csv",
        "path": "p.csv",
        "key": "身份证号",
        "columns": {"身份证号": "id_number", "姓名": "name", "月工资": "monthly_wage"},
    }
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True), "utf-8")
    import_sources(wh, [load_mapping(tmp_path / "p.yaml")])
    return wh


def test_the_own_record_is_one_clear_row_and_the_read_is_audited(people: Warehouse) -> None:
    read = read_own_record(people, "person", PERSON, via="web:u1")
    rows = read.table.to_pylist()
    assert len(rows) == 1 and rows[0]["id_number"] == PERSON and rows[0]["name"] == "张三"
    assert read.masked == () and read.withheld == () and "monthly_wage" in read.fields
    (record,) = [r for r in audit_records(people).to_pylist() if r["seq"] == read.audit_seq]
    assert record["purpose"] == OWN_RECORD_PURPOSE and record["rows"] == 1
    assert record["actor"] == f"{entity_digest(PERSON)} via web:u1"
    assert PERSON not in record["actor"] and PERSON not in (record["detail"] or "")


def test_a_key_not_in_the_table_reads_nothing_but_is_still_audited(people: Warehouse) -> None:
    read = read_own_record(people, "person", "350203199001019999", via="web:u2")
    assert read.table.num_rows == 0 and read.audit_seq is not None
