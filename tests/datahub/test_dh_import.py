"""Importing departments' extracts: every format, every kind of bad input, snapshots and conflicts."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from dh_helpers import credit_code

from zhixiang.datahub import (
    MappingError,
    Warehouse,
    conflict_rows,
    import_sources,
    list_imports,
    load_mapping,
    quarantine_rows,
)

A = credit_code("91350211MA2Y0A00" + "1")
B = credit_code("91350203MA2Y0B00" + "2")
C = credit_code("91350206MA2Y0C00" + "3")
BAD_CHECK = A[:17] + ("0" if A[17] != "0" else "1")

TAX_HEADER = "纳税人识别号,营业收入（万元）,纳税信用等级,是否欠税,登记日期"


def write_mapping(folder: Path, name: str, doc: dict) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), "utf-8")
    return path


def tax_mapping(
    folder: Path, encoding: str = "gbk", path: str = "tax.csv", priority: int = 40
) -> Path:
    return write_mapping(
        folder,
        "tax",
        {
            "source": "税务",
            "department": "税务局",
            "entity": "enterprise",
            "priority": priority,
            "format": "csv",
            "path": path,
            "encoding": encoding,
            "key": "纳税人识别号",
            "columns": {
                "纳税人识别号": "credit_code",
                "营业收入（万元）": {"field": "营业收入", "unit": "万元"},
                "纳税信用等级": {"field": "tax_credit_rating", "codes": {"1": "A", "2": "B"}},
                "是否欠税": "tax_arrears",
                "登记日期": {"field": "established_on", "format": "%Y/%m/%d"},
            },
        },
    )


def write_tax(folder: Path, lines: list[str], encoding: str = "gbk", name: str = "tax.csv") -> Path:
    path = folder / name
    path.write_bytes(("\n".join([TAX_HEADER, *lines]) + "\n").encode(encoding))
    return path


def entity_rows(wh: Warehouse, entity: str = "enterprise") -> dict[str, dict]:
    table = wh.arrow(f"SELECT * FROM {entity}")
    key = {"enterprise": "credit_code", "person": "id_number", "house": "house_id"}[entity]
    return {row[key]: row for row in table.to_pylist()}


def test_gbk_csv_with_wan_yuan_codes_and_dates_loads_exact_values(
    wh: Warehouse, tmp_path: Path
) -> None:
    write_tax(tmp_path, [f"{A},1234.56789,1,否,2019/03/01", f"{B},０.５,B,是,2020/1/2"])
    report = import_sources(wh, [load_mapping(tax_mapping(tmp_path))])
    assert report.sources[0].rows_loaded == 2 and report.rows_quarantined == 0
    rows = entity_rows(wh)
    assert rows[A]["revenue"] == Decimal("12345678.90")
    assert rows[A]["tax_credit_rating"] == "A" and rows[A]["tax_arrears"] is False
    assert rows[A]["established_on"] == dt.date(2019, 3, 1)
    assert rows[B]["revenue"] == Decimal("5000.00") and rows[B]["tax_arrears"] is True
    assert rows[A]["name"] is None  # a fact no source provides stays unknown


def test_each_kind_of_bad_cell_is_quarantined_with_row_field_and_reason(
    wh: Warehouse, tmp_path: Path
) -> None:
    write_tax(
        tmp_path,
        [
            f"{A},10,A,否,2019/03/01",  # line 2: fine
            f"{BAD_CHECK},10,A,否,2019/03/01",  # line 3: check character
            f"{B},-5,A,否,2019/03/01",  # line 4: negative money
            f"{C},10,A,否,2021/02/30",  # line 5: impossible date
            f"{credit_code('91350211MA2Y0D00' + '4')},10,Z,也许,2019/03/01",  # line 6: enum and bool
        ],
    )
    report = import_sources(wh, [load_mapping(tax_mapping(tmp_path))])
    (result,) = report.sources
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 1, 4)
    q = {(r["row_number"], r["field"]): r for r in quarantine_rows(wh).to_pylist()}
    assert "校验位错误" in q[(3, "credit_code")]["reason"]
    assert q[(3, "credit_code")]["value"] == BAD_CHECK
    assert "为负数" in q[(4, "revenue")]["reason"] and q[(4, "revenue")]["value"] == "-5"
    assert "不是有效日期" in q[(5, "established_on")]["reason"]
    assert "不在取值范围" in q[(6, "tax_credit_rating")]["reason"]
    assert "是/否" in q[(6, "tax_arrears")]["reason"]
    assert '"纳税人识别号"' in q[(4, "revenue")]["record"]  # the whole raw row is kept for fixing
    assert set(entity_rows(wh)) == {A}


def test_duplicate_identifiers_in_one_extract_are_all_quarantined(
    wh: Warehouse, tmp_path: Path
) -> None:
    write_tax(
        tmp_path,
        [f"{A},10,A,否,2019/03/01", f"{B},1,A,否,2019/03/01", f"{A.lower()},11,A,否,2019/03/01"],
    )
    report = import_sources(wh, [load_mapping(tax_mapping(tmp_path))])
    assert report.sources[0].rows_quarantined == 2
    reasons = [r["reason"] for r in quarantine_rows(wh).to_pylist()]
    assert all("主键重复" in r and "行 2、4" in r for r in reasons)
    assert set(entity_rows(wh)) == {B}


def test_truncated_csv_quarantines_the_cut_row_and_loads_the_rest(
    wh: Warehouse, tmp_path: Path
) -> None:
    path = write_tax(tmp_path, [f"{A},10,A,否,2019/03/01", f"{B},20,A,否,2019/03/01"])
    path.write_bytes(path.read_bytes() + f"{C},3".encode("gbk"))
    report = import_sources(wh, [load_mapping(tax_mapping(tmp_path))])
    (result,) = report.sources
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    (row,) = quarantine_rows(wh).to_pylist()
    assert row["row_number"] == 4 and row["field"] == "*" and "截断" in row["reason"]


def test_gbk_file_declared_utf8_is_rejected_whole_and_keeps_the_previous_version(
    wh: Warehouse, tmp_path: Path
) -> None:
    write_tax(tmp_path, [f"{A},10,A,否,2019/03/01"], encoding="utf-8")
    import_sources(wh, [load_mapping(tax_mapping(tmp_path, encoding="utf-8"))])
    write_tax(tmp_path, [f"{A},99,A,否,2019/03/01"], encoding="gbk")
    report = import_sources(wh, [load_mapping(tax_mapping(tmp_path, encoding="utf-8"))])
    (result,) = report.rejected
    assert "第1行不是 utf-8 编码" in result.message and "encoding: gbk" in result.message
    assert entity_rows(wh)[A]["revenue"] == Decimal("100000.00")  # nothing half-applied
    (q,) = quarantine_rows(wh, "税务").to_pylist()
    assert q["field"] == "*" and "整个文件未导入" in q["reason"]


def test_reimport_replaces_the_source_keeps_snapshots_and_releases_fixed_rows(
    wh: Warehouse, tmp_path: Path
) -> None:
    write_tax(tmp_path, [f"{A},10,A,否,2019/03/01", f"{B},-1,A,否,2019/03/01"])
    mapping = load_mapping(tax_mapping(tmp_path))
    first = import_sources(wh, [mapping], now=dt.datetime(2026, 1, 1))
    assert first.rows_quarantined == 1
    write_tax(tmp_path, [f"{A},10,A,否,2019/03/01", f"{B},1,A,否,2019/03/01"], name="tax-fixed.csv")
    second = import_sources(
        wh, [mapping.with_location(str(tmp_path / "tax-fixed.csv"))], now=dt.datetime(2026, 2, 1)
    )
    assert second.rows_quarantined == 0 and quarantine_rows(wh).num_rows == 0
    assert entity_rows(wh)[B]["revenue"] == Decimal("10000.00")
    history = list_imports(wh, "税务", history=True).to_pylist()
    assert [h["status"] for h in history] == ["current", "previous"]
    snapshot = f"dh_snapshot_{history[1]['import_id']}"
    assert wh.rows(f"SELECT count(*) FROM {snapshot}")[0][0] == 1  # the previous version is kept


def test_a_failure_while_applying_rolls_back_everything(
    wh: Warehouse, tmp_path: Path, monkeypatch
) -> None:
    write_tax(tmp_path, [f"{A},10,A,否,2019/03/01"])
    mapping = load_mapping(tax_mapping(tmp_path))
    import_sources(wh, [mapping])
    write_tax(tmp_path, [f"{A},20,A,否,2019/03/01"])

    import zhixiang.datahub._hub as hub

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(hub, "rebuild_links", broken)
    monkeypatch.setattr(hub, "rebuild_entity", broken)
    monkeypatch.setattr(hub, "_write_entity_directly", broken)  # the single-source path
    with pytest.raises(RuntimeError):
        import_sources(wh, [mapping])
    assert entity_rows(wh)[A]["revenue"] == Decimal("100000.00")
    assert [h["status"] for h in list_imports(wh, history=True).to_pylist()] == ["current"]


def market_excel(path: Path, rows: list[list[object]]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["统一社会信用代码", "企业名称", "登记信息", None, None])
    sheet.append([None, None, "注册地", "成立日期", "注册资本（万元）"])
    for merged in ("A1:A2", "B1:B2", "C1:E1"):
        sheet.merge_cells(merged)
    for row in rows:
        sheet.append(row)
    book.save(path)


def market_mapping(folder: Path, header_rows: int | None = None) -> Path:
    doc = {
        "source": "市场监管",
        "department": "市场监管局",
        "entity": "enterprise",
        "priority": 30,
        "format": "excel",
        "path": "market.xlsx",
        "key": "统一社会信用代码",
        "columns": {
            "统一社会信用代码": "credit_code",
            "企业名称": "name",
            "登记信息/注册地": "region_code",
            "成立日期": "established_on",  # the last part of a merged header is enough when unique
            "注册资本（万元）": {"field": "registered_capital", "unit": "万元"},
        },
    }
    if header_rows is not None:
        doc["header_rows"] = header_rows
    return write_mapping(folder, "market", doc)


def test_excel_with_merged_header_cells_loads_and_quarantines_by_sheet_row(
    wh: Warehouse, tmp_path: Path
) -> None:
    market_excel(
        tmp_path / "market.xlsx",
        [
            [A, "厦门甲科技有限公司", "350211", dt.datetime(2019, 3, 1), 50],
            [B, "厦门乙贸易有限公司", "350299", "2020-01-01", "10.5"],
            [C, "厦门丙公司", "350206001000", "2020-02-30", 1],
        ],
    )
    report = import_sources(wh, [load_mapping(market_mapping(tmp_path))])
    assert report.sources[0].rows_loaded == 1
    rows = entity_rows(wh)
    assert rows[A]["name"] == "厦门甲科技有限公司"
    assert rows[A]["registered_capital"] == Decimal("500000.00")
    assert rows[A]["established_on"] == dt.date(2019, 3, 1)
    q = {(r["row_number"], r["field"]): r["reason"] for r in quarantine_rows(wh).to_pylist()}
    assert "不在国家行政区划代码表中" in q[(4, "region_code")]
    assert "不是有效日期" in q[(5, "established_on")]


def test_excel_merged_header_read_with_one_header_row_is_rejected_precisely(
    wh: Warehouse, tmp_path: Path
) -> None:
    market_excel(tmp_path / "market.xlsx", [[A, "甲", "350211", "2019-03-01", 1]])
    report = import_sources(wh, [load_mapping(market_mapping(tmp_path, header_rows=1))])
    (result,) = report.rejected
    assert "合并单元格使多列同名: 登记信息" in result.message and "header_rows" in result.message


def test_truncated_excel_file_is_rejected_not_crashed(wh: Warehouse, tmp_path: Path) -> None:
    market_excel(tmp_path / "market.xlsx", [[A, "甲", "350211", "2019-03-01", 1]])
    data = (tmp_path / "market.xlsx").read_bytes()
    (tmp_path / "market.xlsx").write_bytes(data[: len(data) // 2])
    report = import_sources(wh, [load_mapping(market_mapping(tmp_path))])
    assert "不是完整的 Excel 文件" in report.rejected[0].message


def test_parquet_and_sql_sources_join_with_priority_and_conflicts_are_reported(
    wh: Warehouse, tmp_path: Path
) -> None:
    pq.write_table(
        pa.table(
            {
                "code": [A, B],
                "revenue_yuan": [Decimal("100000.00"), Decimal("7.00")],
                "staff": [10, None],
            }
        ),
        tmp_path / "stats.parquet",
    )
    stats = write_mapping(
        tmp_path,
        "stats",
        {
            "source": "统计",
            "department": "统计局",
            "entity": "enterprise",
            "priority": 10,
            "format": "parquet",
            "path": "stats.parquet",
            "key": "code",
            "columns": {"code": "credit_code", "revenue_yuan": "revenue", "staff": "employees"},
        },
    )
    db = tmp_path / "hrss.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE dw (tyshxydm TEXT, cbrs INTEGER, sbqf TEXT)")
        conn.executemany("INSERT INTO dw VALUES (?, ?, ?)", [(A, 8, "N"), (C, 3, "Y")])
    hrss = write_mapping(
        tmp_path,
        "hrss",
        {
            "source": "人社",
            "department": "人社局",
            "entity": "enterprise",
            "format": "sql",
            "url": f"sqlite:///{db}",
            "table": "dw",
            "key": "tyshxydm",
            "columns": {
                "tyshxydm": "credit_code",
                "cbrs": "insured_employees",
                "sbqf": {"field": "social_insurance_arrears", "codes": {"Y": True, "N": False}},
            },
        },
    )
    write_tax(tmp_path, [f"{A},10,A,否,2019/03/01", f"{B},0.0008,A,否,2019/03/01"])
    report = import_sources(wh, [load_mapping(p) for p in (stats, hrss, tax_mapping(tmp_path))])
    assert report.entity_rows == {"enterprise": 3}
    rows = entity_rows(wh)
    assert rows[A]["revenue"] == Decimal("100000.00") and rows[A]["insured_employees"] == 8
    assert rows[B]["revenue"] == Decimal("8.00")  # 税务 (priority 40) wins over 统计 (10)
    assert rows[C]["social_insurance_arrears"] is True and rows[C]["revenue"] is None
    assert report.conflicts == {"enterprise": 1}
    (conflict,) = conflict_rows(wh).to_pylist()
    assert conflict["entity_key"] == B and conflict["chosen_source"] == "税务"
    assert (conflict["chosen_value"], conflict["other_source"], conflict["other_value"]) == (
        "8.00",
        "统计",
        "7.00",
    )


def test_people_houses_and_their_links(wh: Warehouse, tmp_path: Path) -> None:
    person = "11010519491231002X"
    (tmp_path / "people.csv").write_text(
        "身份证号,姓名,手机,户籍地,工作单位,住所\n"
        f"{person},张三,13812345678,350211,{A},350211003004GB00123F00010001\n"
        f"440524188001010014,李四,1381234,350203,,\n",
        "utf-8",
    )
    people = write_mapping(
        tmp_path,
        "people",
        {
            "source": "人社-参保人员",
            "department": "人社局",
            "entity": "person",
            "format": "csv",
            "path": "people.csv",
            "key": "身份证号",
            "columns": {
                "身份证号": "id_number",
                "姓名": "name",
                "手机": "phone",
                "户籍地": "household_region",
            },
            "links": [
                {"kind": "works_at", "column": "工作单位"},
                {"kind": "lives_in", "column": "住所"},
            ],
        },
    )
    report = import_sources(wh, [load_mapping(people)])
    assert report.sources[0].rows_loaded == 1
    (q,) = quarantine_rows(wh).to_pylist()
    assert q["field"] == "phone" and q["row_number"] == 3 and q["value"] == "1381234"
    (shared,) = quarantine_rows(wh, redact_personal=True).to_pylist()
    assert shared["value"] == "***" and shared["record"] is None  # no way around grants
    links = sorted(wh.rows("SELECT kind, from_key, to_entity, to_key FROM link"))
    assert links == [
        ("lives_in", person, "house", "350211003004GB00123F00010001"),
        ("works_at", person, "enterprise", A),
    ]
    assert entity_rows(wh, "person")[person]["name"] == "张三"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"entity": "planet"}, "entity 应为"),
        (
            {"columns": {"纳税人识别号": "credit_code", "x": "no_such_field"}},
            "目录中没有字段 'no_such_field'",
        ),
        (
            {"columns": {"纳税人识别号": "credit_code", "x": {"field": "revenue", "unit": "斤"}}},
            "不能用单位 '斤'",
        ),
        ({"key": "x"}, "key 应为映射到 统一社会信用代码 的源列"),
    ],
)
def test_mapping_errors_name_file_and_key(tmp_path: Path, change: dict, message: str) -> None:
    doc = yaml.safe_load(tax_mapping(tmp_path).read_text("utf-8")) | change
    with pytest.raises(MappingError, match=message):
        load_mapping(write_mapping(tmp_path, "bad", doc))
