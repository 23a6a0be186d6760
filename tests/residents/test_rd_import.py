"""Importing residents through the data hub: bad rows quarantined with reasons and counted, never a raw
身份证号 in a reason, and the same extracts imported twice giving the same warehouse."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
import yaml

from zhixiang.datahub import (
    Warehouse,
    import_sources,
    load_mapping,
    quarantine_rows,
    resident_quarantine_counts,
)
from zhixiang.demo import generate_enterprises, generate_residents
from zhixiang.demo.resident_sources import write_resident_extracts

REFERENCE = date(2026, 12, 1)
RAW_ID = re.compile(r"\d{17}[\dX]")


def _extracts(tmp_path: Path, count: int = 600):
    enterprises = generate_enterprises(5, seed=2).select(["credit_code", "name"])
    pacsv.write_csv(enterprises, tmp_path / "enterprises.csv")
    (tmp_path / "enterprises.yaml").write_text(
        yaml.safe_dump(
            {
                "source": "市场监管局-企业",
                "department": "市场监管局",
                "entity": "enterprise",
                "format": "csv",
                "path": "enterprises.csv",
                "key": "credit_code",
                "columns": {"credit_code": "credit_code", "name": "name"},
            },
            allow_unicode=True,
        ),
        "utf-8",
    )
    residents = generate_residents(
        count, seed=5, reference=REFERENCE, enterprises=enterprises["credit_code"].to_pylist()
    )
    extracts = write_resident_extracts(residents, tmp_path / "residents", seed=5)
    paths = [tmp_path / "enterprises.yaml", *extracts.mappings]
    return residents, extracts, [load_mapping(p) for p in paths]


def _tables(wh: Warehouse) -> dict[str, list[tuple]]:
    return {
        kind: sorted(wh.rows(f"SELECT * FROM {kind}"), key=repr)
        for kind in (
            "person",
            "household",
            "household_member",
            "house",
            "house_owner",
            "person_enterprise",
        )
    }


def test_every_resident_check_quarantines_with_a_reason_and_is_counted(
    wh: Warehouse, tmp_path: Path
) -> None:
    residents, _, mappings = _extracts(tmp_path)
    report = import_sources(wh, mappings)
    groups = report.link_quarantine
    for check in (
        "two_households",
        "no_applicant",
        "two_applicants",
        "orphan_person",
        "orphan_household",
        "orphan_enterprise",
        "shares_over_100",
    ):
        assert groups.get(check, 0) >= 1, (check, groups)
    counts = resident_quarantine_counts(wh)
    for label in (
        "身份证号校验位错误",
        "身份证号出生日期不存在",
        "身份证号地址码不存在",
        "同一人同时在两个户",
        "户没有申请人",
        "户有两名以上申请人",
        "关联的人不在人口库",
        "关联的户不存在",
        "关联的企业不存在",
        "产权份额合计超过100%",
    ):
        assert counts.get(label, 0) >= 1, (label, counts)
    # What was loaded keeps the rules: one household per person, exactly one 申请人, shares ≤ 1, no orphans.
    assert wh.rows(
        "SELECT count(*) FROM (SELECT id_number FROM household_member GROUP BY 1 HAVING count(*) > 1) d"
    ) == [(0,)]
    assert wh.rows(
        """SELECT count(*) FROM household h WHERE (SELECT count(*) FROM household_member m
        WHERE m.household_id = h.household_id AND m.role = '申请人') <> 1"""
    ) == [(0,)]
    assert wh.rows(
        "SELECT count(*) FROM (SELECT house_id FROM house_owner GROUP BY 1 HAVING sum(share) > 1) d"
    ) == [(0,)]
    for link, column, target, key in (
        ("household_member", "id_number", "person", "id_number"),
        ("household_member", "household_id", "household", "household_id"),
        ("house_owner", "id_number", "person", "id_number"),
        ("house_owner", "house_id", "house", "house_id"),
        ("person_enterprise", "credit_code", "enterprise", "credit_code"),
    ):
        orphans = wh.rows(
            f"SELECT count(*) FROM {link} l WHERE NOT EXISTS "
            f"(SELECT 1 FROM {target} t WHERE t.{key} = l.{column})"
        )
        assert orphans == [(0,)], (link, column)
    police = next(s for s in report.sources if s.source == "公安局-人口库")
    assert police.rows_quarantined == 3  # three spoiled numbers; other departments still know them
    assert report.entity_rows["person"] == residents.person.num_rows
    assert 0 < report.entity_rows["household"] < residents.household.num_rows


def test_quarantine_reasons_never_show_a_whole_id_number(wh: Warehouse, tmp_path: Path) -> None:
    _, _, mappings = _extracts(tmp_path, 300)
    import_sources(wh, mappings)
    reasons = [r["reason"] for r in quarantine_rows(wh).to_pylist()]
    assert any("**********" in r for r in reasons)  # masked ones are there …
    assert [r for r in reasons if RAW_ID.search(r)] == []  # … and no clear ones


def test_a_duplicated_person_is_quarantined_without_echoing_the_number(
    wh: Warehouse, tmp_path: Path
) -> None:
    number = "440106199001011235"
    (tmp_path / "p.csv").write_text(f"身份证号,姓名\n{number},张三\n{number},张三\n", "utf-8")
    (tmp_path / "p.yaml").write_text(
        yaml.safe_dump(
            {
                "source": "公安局-测试",
                "department": "公安局",
                "entity": "person",
                "format": "csv",
                "path": "p.csv",
                "key": "身份证号",
                "columns": {"身份证号": "id_number", "姓名": "name"},
            },
            allow_unicode=True,
        ),
        "utf-8",
    )
    import_sources(wh, [load_mapping(tmp_path / "p.yaml")])
    reasons = [r["reason"] for r in quarantine_rows(wh).to_pylist()]
    assert len(reasons) == 2 and all("主键重复" in r and number not in r for r in reasons)


def test_importing_the_same_extracts_twice_changes_nothing(wh: Warehouse, tmp_path: Path) -> None:
    _, _, mappings = _extracts(tmp_path, 300)
    first = import_sources(wh, mappings)
    tables, counts = _tables(wh), resident_quarantine_counts(wh)
    second = import_sources(wh, mappings)
    assert _tables(wh) == tables
    assert resident_quarantine_counts(wh) == counts
    assert second.link_quarantine == first.link_quarantine
    assert second.entity_rows == first.entity_rows


@pytest.mark.parametrize("kind", ["household_member", "house_owner"])
def test_a_link_mapping_must_name_every_key_column(tmp_path: Path, kind: str) -> None:
    from zhixiang.datahub import MappingError, parse_mapping

    column = {"household_member": "household_id", "house_owner": "house_id"}[kind]
    doc = {
        "source": "x",
        "department": "民政局",
        "entity": kind,
        "format": "csv",
        "path": "x.csv",
        "key": "k",
        "columns": {"k": column},
    }
    with pytest.raises(MappingError, match="缺少主键列"):
        parse_mapping(doc)
