"""The demo's resident extracts: generated residents split into what each department really sends —
公安局 人口库 (CSV), 人社局 就业与收入 (Parquet), 残联, 医保局, 民政局 救助、家庭与成员, 自然资源局 不动产与权利人,
市场监管局 人员任职 — with a few bad rows, so that the import's quarantine shows every resident check.
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
from zhixiang.demo._residents import Residents
from zhixiang.identity import credit_code_check_char, mask_id_number


@dataclass(frozen=True)
class ResidentFault:
    """A bad row put into an extract on purpose; the import must quarantine it (key shown masked)."""

    source: str
    key: str
    why: str


@dataclass(frozen=True)
class ResidentExtracts:
    mappings: tuple[Path, ...]
    faults: tuple[ResidentFault, ...]


def _text(table: pa.Table, select: str) -> pa.Table:
    """The extract's columns as the department's system prints them (SQL over Arrow)."""
    con = duckdb.connect()
    try:
        con.register("t", table)
        return con.sql(f"SELECT {select} FROM t").to_arrow_table()
    finally:
        con.close()


def _yes_no(col: str) -> str:
    return f"CASE WHEN {col} THEN '是' WHEN NOT {col} THEN '否' END"


def _set(table: pa.Table, column: str, index: int, value: str) -> pa.Table:
    values = table[column].to_pylist()
    values[index] = value
    return table.set_column(table.column_names.index(column), column, pa.array(values, pa.string()))


def _add(table: pa.Table, row: dict[str, str]) -> pa.Table:
    extra = pa.table({c: pa.array([row.get(c)], pa.string()) for c in table.column_names})
    return pa.concat_tables([table, extra.cast(table.schema)])


def _id_with_check(body17: str) -> str:
    total = sum(
        int(d) * w
        for d, w in zip(body17, (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), strict=True)
    )
    return body17 + "10X98765432"[total % 11]


def _write(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def write_resident_extracts(residents: Residents, out_dir: Path, seed: int = 0) -> ResidentExtracts:
    """Write each department's resident extract and its mapping file into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    faults: list[ResidentFault] = []
    mappings: list[Path] = []
    person, members = residents.person, residents.household_member
    n = person.num_rows

    def mapping(name: str, doc: dict) -> None:
        mappings.append(_write(out_dir / f"{name}.yaml", doc))

    # 公安局: the population register, every person; three 身份证号 spoiled (children, so that the
    # household keeps its 申请人 and the cascade shows as orphaned member rows).
    police = _text(
        person,
        """id_number AS 公民身份号码, name AS 姓名, gender AS 性别, strftime(birth_date, '%Y-%m-%d') AS 出生日期,
        phone AS 手机号码, household_region AS 户籍地, residence_region AS 居住地, education AS 学历""",
    )
    roles = members["role"].to_numpy(zero_copy_only=False)
    children = np.flatnonzero(roles == "子女")
    if len(children) >= 3 and n >= 100:
        ids = police["公民身份号码"].to_pylist()
        spoil = rng.choice(children, 3, replace=False)
        a, b, c = (int(i) for i in spoil)
        wrong = "0" if ids[a][17] != "0" else "1"
        police = _set(police, "公民身份号码", a, ids[a][:17] + wrong)
        faults.append(ResidentFault("公安局-人口库", mask_id_number(ids[a]), "身份证号校验位错误"))
        feb30 = _id_with_check(ids[b][:6] + ids[b][6:10] + "0230" + ids[b][14:17])
        police = _set(police, "公民身份号码", b, feb30)
        faults.append(
            ResidentFault("公安局-人口库", mask_id_number(feb30), "出生日期不存在（2月30日）")
        )
        no_province = _id_with_check("99" + ids[c][2:17])
        police = _set(police, "公民身份号码", c, no_province)
        faults.append(
            ResidentFault("公安局-人口库", mask_id_number(no_province), "地址码省份不存在")
        )
    pacsv.write_csv(police, out_dir / "公安局_人口库.csv")
    mapping(
        "公安局",
        {
            "source": "公安局-人口库",
            "department": "公安局",
            "entity": "person",
            "priority": 30,
            "format": "csv",
            "path": "公安局_人口库.csv",
            "key": "公民身份号码",
            "columns": {
                "公民身份号码": "id_number",
                "姓名": "name",
                "性别": "gender",
                "出生日期": "birth_date",
                "手机号码": "phone",
                "户籍地": "household_region",
                "居住地": "residence_region",
                "学历": "education",
            },
        },
    )

    # 人社局: employment and income as typed text in Parquet; income unknown stays empty.
    hrss = _text(
        person,
        f"""id_number AS sfzh, {_yes_no("employed")} AS jyzt, CAST(monthly_income AS VARCHAR) AS ysr,
        CAST(monthly_wage AS VARCHAR) AS yjfgz, CAST(social_insurance_months AS VARCHAR) AS sbjfys,
        {_yes_no("unemployment_registered")} AS sydj, {_yes_no("work_ability")} AS ldnl""",
    )
    pq.write_table(hrss, out_dir / "人社局_就业收入.parquet")
    mapping(
        "人社局",
        {
            "source": "人社局-就业收入",
            "department": "人社局",
            "entity": "person",
            "priority": 20,
            "format": "parquet",
            "path": "人社局_就业收入.parquet",
            "key": "sfzh",
            "columns": {
                "sfzh": "id_number",
                "jyzt": "employed",
                "ysr": "monthly_income",
                "yjfgz": "monthly_wage",
                "sbjfys": "social_insurance_months",
                "sydj": "unemployment_registered",
                "ldnl": "work_ability",
            },
        },
    )

    # 残联, 医保局, 民政局 (救助): one status file each.
    for name, source, fmt, select, columns in (
        (
            "残联",
            "残联-残疾人",
            "csv",
            "id_number AS 身份证号, disability_level AS 残疾等级, disability_category AS 残疾类别",
            {
                "身份证号": "id_number",
                "残疾等级": "disability_level",
                "残疾类别": "disability_category",
            },
        ),
        (
            "医保局",
            "医保局-参保与长护",
            "csv",
            f"id_number AS 身份证号, {_yes_no('medical_insured')} AS 参加医保, ltc_disability_grade AS 失能等级",
            {
                "身份证号": "id_number",
                "参加医保": "medical_insured",
                "失能等级": "ltc_disability_grade",
            },
        ),
        (
            "民政局_救助",
            "民政局-社会救助",
            "parquet",
            f"id_number AS 身份证号, {_yes_no('low_income')} AS 低保, {_yes_no('extreme_poverty')} AS 特困",
            {"身份证号": "id_number", "低保": "low_income", "特困": "extreme_poverty"},
        ),
    ):
        table = _text(person, select)
        path = out_dir / f"{name}.{fmt}"
        if fmt == "csv":
            pacsv.write_csv(table, path)
        else:
            pq.write_table(table, path)
        mapping(
            name,
            {
                "source": source,
                "department": name.split("_")[0],
                "entity": "person",
                "priority": 10,
                "format": fmt,
                "path": path.name,
                "key": "身份证号",
                "columns": columns,
            },
        )

    # 民政局: households and their members. Faults: a household without 申请人, one with two, a person in
    # a second household, a member of a household that does not exist.
    households = _text(
        residents.household,
        """household_id AS 户编号, region AS 户所在街道, registration_type AS 户籍类型,
        CAST(financial_assets AS VARCHAR) AS "家庭金融资产（元）" """,
    )
    pacsv.write_csv(households, out_dir / "民政局_家庭.csv")
    mapping(
        "民政局_家庭",
        {
            "source": "民政局-家庭",
            "department": "民政局",
            "entity": "household",
            "priority": 10,
            "format": "csv",
            "path": "民政局_家庭.csv",
            "key": "户编号",
            "columns": {
                "户编号": "household_id",
                "户所在街道": "region",
                "户籍类型": "registration_type",
                "家庭金融资产（元）": "financial_assets",
            },
        },
    )
    member_text = _text(
        members, "household_id AS 户编号, id_number AS 身份证号, role AS 与申请人关系"
    )
    if n >= 100:
        hh = members["household_id"].to_numpy(zero_copy_only=False)
        ids_m = members["id_number"].to_pylist()
        counts = dict(zip(*np.unique(hh, return_counts=True), strict=True))
        singles = [i for i in np.flatnonzero(roles == "申请人") if counts[hh[i]] == 1]
        spouses = np.flatnonzero(roles == "配偶")
        if singles and len(spouses):
            i = int(singles[0])
            member_text = _set(member_text, "与申请人关系", i, "其他")
            faults.append(ResidentFault("民政局-家庭成员", str(hh[i]), "户没有申请人"))
            j = int(spouses[len(spouses) // 2])
            member_text = _set(member_text, "与申请人关系", j, "申请人")
            faults.append(ResidentFault("民政局-家庭成员", str(hh[j]), "户有两名申请人"))
            k = int(singles[-1])
            other = str(hh[(k + 7) % len(hh)])
            member_text = _add(
                member_text, {"户编号": other, "身份证号": ids_m[k], "与申请人关系": "其他"}
            )
            faults.append(
                ResidentFault("民政局-家庭成员", mask_id_number(ids_m[k]), "同时在两个户")
            )
            member_text = _add(
                member_text,
                {"户编号": "H4401069999999999", "身份证号": ids_m[1], "与申请人关系": "其他"},
            )
            faults.append(ResidentFault("民政局-家庭成员", "H4401069999999999", "户不存在"))
    pacsv.write_csv(member_text, out_dir / "民政局_家庭成员.csv")
    mapping(
        "民政局_家庭成员",
        {
            "source": "民政局-家庭成员",
            "department": "民政局",
            "entity": "household_member",
            "priority": 10,
            "format": "csv",
            "path": "民政局_家庭成员.csv",
            "key": "户编号",
            "columns": {"户编号": "household_id", "身份证号": "id_number", "与申请人关系": "role"},
        },
    )

    # 自然资源局: houses and owners (shares as percentages). Faults: shares over 100 %, an owner who is
    # not in the population register.
    houses = _text(
        residents.house,
        """house_id AS 不动产单元号, region AS 所在街道, usage AS 房屋用途, CAST(area AS VARCHAR) AS 建筑面积,
        strftime(registered_on, '%Y-%m-%d') AS 登记日期, CAST(built_year AS VARCHAR) AS 建成年份,
        house_type AS 房屋类型""",
    )
    pacsv.write_csv(houses, out_dir / "自然资源局_不动产.csv")
    mapping(
        "自然资源局_不动产",
        {
            "source": "自然资源局-不动产",
            "department": "自然资源和规划局",
            "entity": "house",
            "priority": 10,
            "format": "csv",
            "path": "自然资源局_不动产.csv",
            "key": "不动产单元号",
            "columns": {
                "不动产单元号": "house_id",
                "所在街道": "region",
                "房屋用途": "usage",
                "建筑面积": "area",
                "登记日期": "registered_on",
                "建成年份": "built_year",
                "房屋类型": "house_type",
            },
        },
    )
    owners = _text(
        residents.house_owner,
        "house_id AS 不动产单元号, id_number AS 权利人证件号, CAST(CAST(share * 100 AS DECIMAL(8,2)) AS VARCHAR) || '%' AS 份额",
    )
    if n >= 100 and owners.num_rows:
        shares = owners["份额"].to_pylist()
        half = [i for i, s in enumerate(shares) if s == "50.00%"]
        if half:
            owners = _set(owners, "份额", half[0], "70%")
            faults.append(
                ResidentFault(
                    "自然资源局-权利人", owners["不动产单元号"][half[0]].as_py(), "产权份额合计120%"
                )
            )
        stranger = _id_with_check("44010619800101999")
        owners = _add(
            owners,
            {
                "不动产单元号": owners["不动产单元号"][0].as_py(),
                "权利人证件号": stranger,
                "份额": "0%",
            },
        )
        faults.append(
            ResidentFault("自然资源局-权利人", mask_id_number(stranger), "权利人不在人口库")
        )
    pacsv.write_csv(owners, out_dir / "自然资源局_权利人.csv")
    mapping(
        "自然资源局_权利人",
        {
            "source": "自然资源局-权利人",
            "department": "自然资源和规划局",
            "entity": "house_owner",
            "priority": 10,
            "format": "csv",
            "path": "自然资源局_权利人.csv",
            "key": "不动产单元号",
            "columns": {"不动产单元号": "house_id", "权利人证件号": "id_number", "份额": "share"},
        },
    )

    # 市场监管局: persons at enterprises (参保单位 from 人社 joined in). Fault: an enterprise not in the
    # enterprise table.
    jobs = _text(
        residents.person_enterprise,
        "id_number AS 证件号码, credit_code AS 统一社会信用代码, relation AS 关系",
    )
    if n >= 100 and jobs.num_rows:
        unknown = "91440106MA59XY801"
        unknown += credit_code_check_char(unknown)
        jobs = _add(
            jobs,
            {"证件号码": jobs["证件号码"][0].as_py(), "统一社会信用代码": unknown, "关系": "股东"},
        )
        faults.append(ResidentFault("市场监管局-人员任职", unknown, "企业不在企业库"))
    pacsv.write_csv(jobs, out_dir / "市场监管局_人员任职.csv")
    mapping(
        "市场监管局_人员任职",
        {
            "source": "市场监管局-人员任职",
            "department": "市场监管局",
            "entity": "person_enterprise",
            "priority": 10,
            "format": "csv",
            "path": "市场监管局_人员任职.csv",
            "key": "证件号码",
            "columns": {
                "证件号码": "id_number",
                "统一社会信用代码": "credit_code",
                "关系": "relation",
            },
        },
    )
    return ResidentExtracts(tuple(mappings), tuple(faults))


def import_resident_sources(
    settings: Settings, residents: Residents, seed: int = 0
) -> ImportReport:
    """Write the residents' extracts under the platform home and import them into the warehouse."""
    extracts = write_resident_extracts(residents, settings.data_dir / "residents", seed)
    with open_warehouse(settings.warehouse_url) as wh:
        return import_sources(wh, [load_mapping(p) for p in extracts.mappings])


__all__ = [
    "ResidentExtracts",
    "ResidentFault",
    "import_resident_sources",
    "write_resident_extracts",
]
