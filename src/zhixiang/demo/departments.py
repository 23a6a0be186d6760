"""The demo's departments: one generated enterprise table split into the extracts each department
really sends — 市场监管 as Excel with merged header cells, 税务 as a GBK CSV in 万元, 人社 and 科技 as SQL
tables, 统计 as Parquet — with a few bad rows, so the demo data arrive through the data hub's import path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from zhixiang.config import Settings
from zhixiang.datahub import ImportReport, import_sources, load_mapping, open_warehouse


@dataclass(frozen=True)
class InjectedFault:
    """A bad cell put into an extract on purpose; the import must quarantine it."""

    source: str
    credit_code: str
    field: str
    value: str
    why: str


@dataclass(frozen=True)
class DepartmentExtracts:
    mappings: tuple[Path, ...]
    faults: tuple[InjectedFault, ...]


def _strings(table: pa.Table, select: str) -> pa.Table:
    """Format the extract's columns as a department's system would print them (SQL over Arrow)."""
    con = duckdb.connect()
    try:
        con.register("e", table)
        return con.sql(f"SELECT {select} FROM e ORDER BY credit_code").to_arrow_table()
    finally:
        con.close()


def _yuan_to_wan(col: str) -> str:
    return f"CAST(CAST({col} / 10000 AS DECIMAL(24,6)) AS VARCHAR)"


def _yes_no(col: str) -> str:
    return f"CASE WHEN {col} THEN '是' WHEN NOT {col} THEN '否' END"


def _replace(table: pa.Table, column: str, index: int, value: str) -> pa.Table:
    values = table[column].to_pylist()
    values[index] = value
    i = table.column_names.index(column)
    return table.set_column(i, column, pa.array(values, pa.string()))


def _write_mapping(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def write_department_extracts(
    table: pa.Table,
    out_dir: Path,
    sql_url: str | None = None,
    sql_schema: str | None = None,
    seed: int = 0,
) -> DepartmentExtracts:
    """Write each department's extract and its mapping file into `out_dir`.

    人社 and 科技 go to the SQL database at `sql_url` (a SQLite file in `out_dir` when not given).
    """
    import sqlalchemy as sa

    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = table.num_rows
    picks = rng.choice(n, size=min(n, 6), replace=False) if n else np.array([], dtype=int)
    faults: list[InjectedFault] = []
    mappings: list[Path] = []
    sql_url = sql_url or f"sqlite:///{out_dir / 'departments.sqlite'}"

    # 市场监管局: Excel, a header in two rows with merged group cells.
    market = _strings(
        table,
        """credit_code, name, region_code, strftime(established_on, '%Y-%m-%d') AS established_on,
        """
        + _yuan_to_wan("registered_capital")
        + " AS capital, "
        + _yes_no("serious_violation")
        + " AS violation, CAST(invention_patents AS VARCHAR) AS patents",
    )
    codes = market["credit_code"].to_pylist()
    if n >= 6:
        i = int(picks[0])
        code = codes[i]
        wrong = "0" if code[17] != "0" else "1"
        market = _replace(market, "credit_code", i, code[:17] + wrong)
        faults.append(
            InjectedFault(
                "市场监管局-企业登记", code, "credit_code", code[:17] + wrong, "校验位错误"
            )
        )
        i = int(picks[1])
        market = _replace(market, "region_code", i, "350299")
        faults.append(
            InjectedFault(
                "市场监管局-企业登记", codes[i], "region_code", "350299", "未知行政区划代码"
            )
        )
        i = int(picks[2])
        market = _replace(market, "established_on", i, "2021-02-30")
        faults.append(
            InjectedFault(
                "市场监管局-企业登记", codes[i], "established_on", "2021-02-30", "日期不存在"
            )
        )
    _write_market_excel(market, out_dir / "市场监管局_企业登记.xlsx")
    mappings.append(
        _write_mapping(
            out_dir / "市场监管局.yaml",
            {
                "source": "市场监管局-企业登记",
                "department": "市场监管局",
                "entity": "enterprise",
                "priority": 30,
                "format": "excel",
                "path": "市场监管局_企业登记.xlsx",
                "header_rows": 2,
                "key": "统一社会信用代码",
                "columns": {
                    "统一社会信用代码": "credit_code",
                    "企业名称": "name",
                    "登记信息/注册地": "region_code",
                    "登记信息/成立日期": "established_on",
                    "登记信息/注册资本（万元）": {"field": "registered_capital", "unit": "万元"},
                    "信用信息/严重违法失信": "serious_violation",
                    "信用信息/发明专利授权数": "invention_patents",
                },
            },
        )
    )

    # 税务局: GBK CSV, amounts in 万元, ratings as letters, arrears as 是/否; the file ends cut off.
    tax = _strings(
        table,
        f"""credit_code AS "纳税人识别号", name AS "纳税人名称",
        {_yuan_to_wan("revenue")} AS "营业收入（万元）", {_yuan_to_wan("revenue_prev")} AS "上年营业收入（万元）",
        {_yuan_to_wan("rd_expense")} AS "研发费用（万元）", {_yuan_to_wan("tax_paid")} AS "纳税总额（万元）",
        tax_credit_rating AS "纳税信用等级", {_yes_no("tax_arrears")} AS "是否欠税" """,
    )
    tax_codes = tax["纳税人识别号"].to_pylist()
    if n >= 6:
        i = int(picks[3])
        value = "-" + (tax["营业收入（万元）"][i].as_py() or "1")
        tax = _replace(tax, "营业收入（万元）", i, value)
        faults.append(InjectedFault("税务局-纳税申报", tax_codes[i], "revenue", value, "金额为负"))
    buffer = pa.BufferOutputStream()
    pacsv.write_csv(tax, buffer, pacsv.WriteOptions(quoting_style="needed"))
    text = buffer.getvalue().to_pybytes().decode("utf-8")
    if n >= 6:
        last = text.rstrip("\n").rsplit("\n", 1)[-1]
        text = text.rstrip("\n").rsplit("\n", 1)[0] + "\n" + last[: len(last) // 2]
        faults.append(
            InjectedFault(
                "税务局-纳税申报",
                last.split(",")[0].strip('"'),
                "*",
                last[: len(last) // 2],
                "文件截断",
            )
        )
    (out_dir / "税务局_纳税申报.csv").write_bytes(text.encode("gbk"))
    mappings.append(
        _write_mapping(
            out_dir / "税务局.yaml",
            {
                "source": "税务局-纳税申报",
                "department": "税务局",
                "entity": "enterprise",
                "priority": 40,
                "format": "csv",
                "path": "税务局_纳税申报.csv",
                "encoding": "gbk",
                "key": "纳税人识别号",
                "columns": {
                    "纳税人识别号": "credit_code",
                    "营业收入（万元）": {"field": "revenue", "unit": "万元"},
                    "上年营业收入（万元）": {"field": "revenue_prev", "unit": "万元"},
                    "研发费用（万元）": {"field": "rd_expense", "unit": "万元"},
                    "纳税总额（万元）": {"field": "tax_paid", "unit": "万元"},
                    "纳税信用等级": "tax_credit_rating",
                    "是否欠税": "tax_arrears",
                },
            },
        )
    )

    # 人社局 and 科技局: tables in their SQL databases, with their own codes.
    hrss = _strings(
        table,
        """credit_code AS dwtyshxydm, CAST(insured_employees AS VARCHAR) AS cbrs,
        CAST(new_graduate_hires AS VARCHAR) AS xzygxbysrs, CAST(unemployment_insurance_paid AS VARCHAR) AS synbxjf,
        CASE WHEN social_insurance_arrears THEN 'Y' WHEN NOT social_insurance_arrears THEN 'N' END AS sbqf""",
    )
    tech = _strings(
        table,
        """credit_code AS tyshxydm, CAST(CAST(high_tech AS INTEGER) AS VARCHAR) AS gxjsqy,
        strftime(high_tech_certified_on, '%Y%m%d') AS gqrdrq,
        CAST(CAST(tech_sme AS INTEGER) AS VARCHAR) AS kjxzxqy,
        CAST(CAST(rd_ratio * 100 AS DECIMAL(12,4)) AS VARCHAR) AS yftrzb""",
    )
    if n >= 6:
        i = int(picks[4])
        tech = _replace(tech, "gqrdrq", i, "20230230")
        faults.append(
            InjectedFault(
                "科技局-高企库", codes[i], "high_tech_certified_on", "20230230", "日期不存在"
            )
        )
    engine = sa.create_engine(sql_url)
    try:
        with engine.begin() as conn:
            hrss.to_pandas().to_sql(
                "hrss_employer_insurance",
                conn,
                schema=sql_schema,
                if_exists="replace",
                index=False,
                chunksize=10_000,
            )
            tech.to_pandas().to_sql(
                "tech_enterprise",
                conn,
                schema=sql_schema,
                if_exists="replace",
                index=False,
                chunksize=10_000,
            )
    finally:
        engine.dispose()
    sql_common = {"format": "sql", "url": sql_url, **({"schema": sql_schema} if sql_schema else {})}
    mappings.append(
        _write_mapping(
            out_dir / "人社局.yaml",
            {
                "source": "人社局-单位参保",
                "department": "人社局",
                "entity": "enterprise",
                "priority": 20,
                **sql_common,
                "table": "hrss_employer_insurance",
                "key": "dwtyshxydm",
                "columns": {
                    "dwtyshxydm": "credit_code",
                    "cbrs": "insured_employees",
                    "xzygxbysrs": "new_graduate_hires",
                    "synbxjf": "unemployment_insurance_paid",
                    "sbqf": {"field": "social_insurance_arrears", "codes": {"Y": True, "N": False}},
                },
            },
        )
    )
    mappings.append(
        _write_mapping(
            out_dir / "科技局.yaml",
            {
                "source": "科技局-高企库",
                "department": "科技局",
                "entity": "enterprise",
                "priority": 20,
                **sql_common,
                "table": "tech_enterprise",
                "key": "tyshxydm",
                "columns": {
                    "tyshxydm": "credit_code",
                    "gxjsqy": "high_tech",
                    "gqrdrq": {"field": "high_tech_certified_on", "format": "%Y%m%d"},
                    "kjxzxqy": "tech_sme",
                    "yftrzb": {"field": "rd_ratio", "unit": "%"},
                },
            },
        )
    )

    # 统计局: Parquet with typed columns and its own scale codes; its revenue (lower priority than
    # 税务) differs for a few enterprises, which the import reports as conflicts.
    stats = _strings(
        table,
        """credit_code, industry_code, CASE scale WHEN '大型' THEN 1 WHEN '中型' THEN 2 WHEN '小型' THEN 3
        WHEN '微型' THEN 4 END AS scale_code, employees, above_scale, above_scale_since,
        specialized_level, export_value, revenue""",
    )
    if n >= 6:
        revenue = stats["revenue"].to_pylist()
        for i in picks[:3]:
            if revenue[int(i)] is not None:
                revenue[int(i)] = revenue[int(i)] + 1000
        stats = stats.set_column(
            stats.column_names.index("revenue"), "revenue", pa.array(revenue, stats["revenue"].type)
        )
    pq.write_table(
        stats.drop_columns(["specialized_level", "export_value"]), out_dir / "统计局_名录库.parquet"
    )
    mappings.append(
        _write_mapping(
            out_dir / "统计局.yaml",
            {
                "source": "统计局-名录库",
                "department": "统计局",
                "entity": "enterprise",
                "priority": 10,
                "format": "parquet",
                "path": "统计局_名录库.parquet",
                "key": "credit_code",
                "columns": {
                    "credit_code": "credit_code",
                    "industry_code": "industry_code",
                    "scale_code": {
                        "field": "scale",
                        "codes": {"1": "大型", "2": "中型", "3": "小型", "4": "微型"},
                    },
                    "employees": "employees",
                    "above_scale": "above_scale",
                    "above_scale_since": "above_scale_since",
                    "revenue": "revenue",
                },
            },
        )
    )
    # 工信局 and 商务局: small UTF-8 CSVs.
    pacsv.write_csv(
        stats.select(["credit_code", "specialized_level", "export_value"]).rename_columns(
            ["统一社会信用代码", "专精特新等级", "出口额（元）"]
        ),
        out_dir / "工信商务_企业.csv",
    )
    mappings.append(
        _write_mapping(
            out_dir / "工信商务.yaml",
            {
                "source": "工信局商务局-企业",
                "department": "工信局",
                "entity": "enterprise",
                "priority": 20,
                "format": "csv",
                "path": "工信商务_企业.csv",
                "key": "统一社会信用代码",
                "columns": {
                    "统一社会信用代码": "credit_code",
                    "专精特新等级": "specialized_level",
                    "出口额（元）": "export_value",
                },
            },
        )
    )
    return DepartmentExtracts(tuple(mappings), tuple(faults))


def _write_market_excel(market: pa.Table, path: Path) -> None:
    """Two header rows: 统一社会信用代码 and 企业名称 merged downwards, groups merged across."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "企业登记"
    sheet.append(["统一社会信用代码", "企业名称", "登记信息", None, None, "信用信息", None])
    sheet.append(
        [None, None, "注册地", "成立日期", "注册资本（万元）", "严重违法失信", "发明专利授权数"]
    )
    for cells in ("A1:A2", "B1:B2", "C1:E1", "F1:G1"):
        sheet.merge_cells(cells)
    columns = [market[c].to_pylist() for c in market.column_names]
    for row in zip(*columns, strict=True):
        sheet.append(list(row))
    book.save(path)


def import_demo_sources(settings: Settings, table: pa.Table) -> ImportReport:
    """Write the departments' extracts under the platform home and import them into the warehouse."""
    extracts = write_department_extracts(table, settings.data_dir / "departments")
    mappings = [load_mapping(p) for p in extracts.mappings]
    with open_warehouse(settings.warehouse_url) as wh:
        return import_sources(wh, mappings)


__all__ = [
    "DepartmentExtracts",
    "InjectedFault",
    "import_demo_sources",
    "write_department_extracts",
]
