"""Grants, masking and the audit log: reads return only granted fields, personal ones masked, all audited."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from zhixiang.datahub import (
    AccessDenied,
    GrantError,
    Warehouse,
    create_grant,
    data_catalog,
    import_sources,
    load_mapping,
    mask_values,
    read_entities,
    revoke_grant,
    verify_audit,
)
from zhixiang.datahub._audit import AUDIT

PERSON = (
    "350203199001011213"  # a well-formed 身份证号 of 思明区 (check digit computed per GB 11643)
)
PURPOSE = "就业补贴免申即享"


def test_masks_follow_the_issue_examples() -> None:
    ids = mask_values(pa.array(["350203199001011234", None]), "id_number").to_pylist()
    assert ids == ["3502**********1234", None]
    assert mask_values(pa.array(["张三", "欧阳修"]), "name").to_pylist() == ["张*", "欧*"]
    assert mask_values(pa.array(["13812345678"]), "phone").to_pylist() == ["138****5678"]
    assert mask_values(pa.array([True, None]), "all").to_pylist() == ["***", None]


def test_catalog_lists_owner_and_sensitivity_of_every_field() -> None:
    entries = {(e.entity, e.name): e for e in data_catalog()}
    assert entries[("person", "id_number")].sensitivity == "sensitive_personal"
    assert entries[("person", "id_number")].department == "公安局"
    assert entries[("person", "phone")].masked_as == "phone"
    assert entries[("enterprise", "revenue")].department == "税务局"
    assert {e.entity for e in entries.values()} == {
        "enterprise",
        "person",
        "house",
        "household",
        "household_member",
        "house_owner",
        "person_enterprise",
    }


@pytest.fixture
def people(wh: Warehouse, tmp_path: Path) -> Warehouse:
    from stdnum.cn import ric

    assert ric.is_valid(PERSON)
    (tmp_path / "p.csv").write_text(
        f"身份证号,姓名,手机,月工资,低保\n{PERSON},张三,13812345678,8000,否\n11010519491231002X,李四,13900001111,,是\n",
        "utf-8",
    )
    mapping = {
        "source": "人社-人员",
        "department": "人社局",
        "entity": "person",
        "format": "csv",
        "path": "p.csv",
        "key": "身份证号",
        "columns": {
            "身份证号": "id_number",
            "姓名": "name",
            "手机": "phone",
            "月工资": "monthly_wage",
            "低保": "low_income",
        },
    }
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True), "utf-8")
    import_sources(wh, [load_mapping(tmp_path / "p.yaml")])
    return wh


def test_a_read_without_grant_is_refused(people: Warehouse) -> None:
    with pytest.raises(AccessDenied, match="没有以“就业补贴免申即享”为用途读取"):
        read_entities(people, "person", reader="人社局", purpose=PURPOSE)


def test_granted_fields_are_returned_masked_and_the_rest_withheld(people: Warehouse) -> None:
    create_grant(
        people,
        grantee="人社局",
        entity="person",
        fields=["id_number", "姓名", "phone"],
        purpose=PURPOSE,
        valid_until=dt.date.today() + dt.timedelta(days=30),
    )
    result = read_entities(people, "person", reader="人社局", purpose=PURPOSE)
    assert result.fields == ("id_number", "name", "phone")
    assert set(result.withheld) >= {"monthly_wage", "low_income"}
    assert result.table.to_pylist()[1] == {
        "id_number": "3502**********1213",
        "name": "张*",
        "phone": "138****5678",
    }
    assert result.audit_seq == 1


def test_a_clear_grant_shows_clear_values_and_keys_select_rows(people: Warehouse) -> None:
    create_grant(
        people,
        grantee="民政局",
        entity="person",
        fields=["id_number", "low_income"],
        purpose="低保复核",
        valid_until=dt.date.today(),
        clear=True,
    )
    result = read_entities(people, "person", reader="民政局", purpose="低保复核", keys=[PERSON])
    assert result.table.to_pylist() == [{"id_number": PERSON, "low_income": False}]
    assert result.masked == ()


def test_expired_revoked_and_other_purpose_grants_do_not_apply(people: Warehouse) -> None:
    grant = create_grant(
        people,
        grantee="人社局",
        entity="person",
        fields=["name"],
        purpose=PURPOSE,
        valid_until=dt.date(2030, 1, 1),
        today=dt.date(2029, 1, 1),
    )
    with pytest.raises(AccessDenied):
        read_entities(people, "person", reader="人社局", purpose=PURPOSE, today=dt.date(2030, 1, 2))
    with pytest.raises(AccessDenied):
        read_entities(
            people, "person", reader="人社局", purpose="另一用途", today=dt.date(2029, 6, 1)
        )
    assert (
        read_entities(
            people, "person", reader="人社局", purpose=PURPOSE, today=dt.date(2029, 6, 1)
        ).table.num_rows
        == 2
    )
    revoke_grant(people, grant.grant_id)
    with pytest.raises(AccessDenied):
        read_entities(people, "person", reader="人社局", purpose=PURPOSE, today=dt.date(2029, 6, 1))


def test_grants_are_checked_when_made(people: Warehouse) -> None:
    with pytest.raises(GrantError, match="没有字段"):
        create_grant(
            people,
            grantee="x",
            entity="person",
            fields=["salary"],
            purpose="p",
            valid_until=dt.date(2099, 1, 1),
        )
    with pytest.raises(GrantError, match="已过"):
        create_grant(
            people,
            grantee="x",
            entity="person",
            fields=["name"],
            purpose="p",
            valid_until=dt.date(2000, 1, 1),
        )
    with pytest.raises(GrantError, match="用途"):
        create_grant(
            people,
            grantee="x",
            entity="person",
            fields=["name"],
            purpose=" ",
            valid_until=dt.date(2099, 1, 1),
        )


def test_public_enterprise_fields_need_no_grant_and_leave_no_audit(wh: Warehouse) -> None:
    result = read_entities(
        wh,
        "enterprise",
        reader="任何部门",
        purpose="查询",
        fields=["credit_code", "name", "revenue"],
    )
    assert result.fields == ("credit_code", "name") and result.withheld == ("revenue",)
    assert result.audit_seq is None


def test_audit_chain_verifies_and_catches_tampering(people: Warehouse) -> None:
    create_grant(
        people,
        grantee="人社局",
        entity="person",
        fields=["name"],
        purpose=PURPOSE,
        valid_until=dt.date(2099, 1, 1),
    )
    for _ in range(3):
        read_entities(people, "person", reader="人社局", purpose=PURPOSE)
    result = verify_audit(people)
    assert result.ok and result.records == 3
    (record,) = people.rows(f"SELECT fields, rows, actor FROM {AUDIT} WHERE seq = 2")
    assert record == ("name", 2, "人社局")
    if people.dialect == "postgres":
        with pytest.raises(Exception, match="只能追加"):
            people.execute(f"UPDATE {AUDIT} SET rows = 0 WHERE seq = 2")
        people.execute(
            f"ALTER TABLE {AUDIT} DISABLE TRIGGER dh_audit_append_only"
        )  # a superuser tampering
    people.execute(f"UPDATE {AUDIT} SET rows = 1 WHERE seq = 2")
    tampered = verify_audit(people)
    assert not tampered.ok and tampered.seq == 2 and "第2条的内容与其哈希不符" in tampered.problem
    people.execute(f"UPDATE {AUDIT} SET rows = 2 WHERE seq = 2")
    people.execute(f"DELETE FROM {AUDIT} WHERE seq = 2")
    deleted = verify_audit(people)
    assert not deleted.ok and "序号不连续" in deleted.problem
