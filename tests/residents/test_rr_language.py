"""The rule language over household members: aggregates, roles, age on the evaluation date, and
refusals located by file, line and column."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from zhixiang.rules import MEMBERS_KEY, PolicyRejected, evaluate_policy, parse_policy

HEAD = """id: t
title: 测试
department: 民政局
entity: household
source: {document: 测试文件, clause: 第一条}
conditions:
  - id: c
    label: 条件
    when: """


def _policy(when: str, benefit: str | None = None):
    text = HEAD + when + "\n" + (f"benefit:\n  amount: {benefit}\n" if benefit else "")
    return parse_policy(text, Path("t.yaml"))


def _refusal(when: str, entity: str = "household") -> str:
    with pytest.raises(PolicyRejected) as rejected:
        parse_policy(HEAD.replace("household", entity) + when + "\n", Path("policy.yaml"))
    return str(rejected.value.problems[0])


@pytest.mark.parametrize(
    ("when", "at", "message"),
    [
        ("sum(成员.no_such_field) > 1元", "no_such_field", "家庭成员没有字段: no_such_field"),
        ("sum(成员.birth_date) > 1元", "birth_date", "sum 只能用于数值或金额"),
        ("sum(成员.monthly_income) + 申请人.birth_date > 1元", "申请人", "不能计算 金额 + 日期"),
        ("sum(成员.monthly_income) > 3", "sum", "类型不符: 金额 不能与 数值 比较"),
        ("成员.年龄 > 60", "成员", "须写在 sum/count/any/all/max/min 之中"),
        ('count(成员 where registration_type == "城镇") > 0', "registration_type", "未知成员字段"),
        ("count(成员 where 年龄) > 0", "年龄", "where 需要是/否条件"),
        ("子女.年龄 < 18", "子女", "是一组值"),
        ("any(成员.monthly_income)", "monthly_income", "any 的成员字段须为是/否"),
    ],
)
def test_bad_aggregates_are_refused_with_file_line_and_column(when, at, message) -> None:
    problem = _refusal(when)
    column = len("    when: ") + when.index(at) + 1  # the expression starts in column 11 of line 9
    assert problem.startswith(f"policy.yaml:9:{column}:"), problem
    assert message in problem


def test_person_policies_cannot_aggregate_members() -> None:
    problem = _refusal("count(成员) > 1", entity="person")
    assert problem.startswith("policy.yaml:9:11") and "只能用于家庭政策" in problem


def _member(role: str, **facts) -> dict:
    return {"role": role, "owns_house": False, "owned_area": Decimal(0), **facts}


def test_three_valued_aggregates_name_the_member_whose_fact_is_missing() -> None:
    policy = _policy("sum(成员.monthly_income) / count(成员) < 1309元")
    facts = {
        MEMBERS_KEY: (
            _member(
                "申请人", id_number="440106195001011234", name="张三", monthly_income=Decimal(500)
            ),
            _member("子女", id_number="440106200001011234", name="张小明"),
        )
    }
    verdict = evaluate_policy(policy, facts, date(2025, 7, 1), explain=True)
    assert verdict.status == "needs_information" and verdict.unknown == ("c",)
    missing = [m for m in verdict.conditions[0].members if m.missing]
    assert [(m.name, m.role, [f.label for f in m.missing]) for m in missing] == [
        ("张小明", "子女", ["月收入"])
    ]


def test_any_is_decided_by_one_true_member_even_when_another_is_unknown() -> None:
    any_low = _policy("any(成员.low_income)")
    count_low = _policy("count(成员 where low_income) >= 1")
    facts = {MEMBERS_KEY: (_member("申请人", low_income=True), _member("配偶"))}
    assert evaluate_policy(any_low, facts, date(2025, 1, 1)).status == "eligible"
    assert evaluate_policy(count_low, facts, date(2025, 1, 1)).status == "needs_information"


def test_age_counts_from_the_birthday_and_falls_back_to_the_id_number() -> None:
    policy = _policy("all(成员 where 年龄 >= 60岁)")
    by_date = {MEMBERS_KEY: (_member("申请人", birth_date=date(1966, 3, 15)),)}
    by_id = {MEMBERS_KEY: (_member("申请人", id_number="440106196603151234"),)}
    for facts in (by_date, by_id):
        assert evaluate_policy(policy, facts, date(2026, 3, 15)).status == "eligible"
        assert evaluate_policy(policy, facts, date(2026, 3, 14)).status == "ineligible"


def test_roles_and_empty_groups() -> None:
    policy = _policy("count(子女) == 0 or max(子女.年龄) < 18")
    alone = {MEMBERS_KEY: (_member("申请人", birth_date=date(1980, 1, 1)),)}
    grown = {
        MEMBERS_KEY: (
            _member("申请人", birth_date=date(1980, 1, 1)),
            _member("子女", birth_date=date(2000, 1, 1)),
        )
    }
    assert evaluate_policy(policy, alone, date(2025, 1, 1)).status == "eligible"
    assert evaluate_policy(policy, grown, date(2025, 1, 1)).status == "ineligible"
    spouse = _policy("within(配偶.household_region, 440100)")
    assert evaluate_policy(spouse, alone, date(2025, 1, 1)).status == "needs_information"


def test_a_per_capita_benefit() -> None:
    policy = _policy("count(成员) >= 1", benefit="1309元 * count(成员) - sum(成员.monthly_income)")
    facts = {
        MEMBERS_KEY: (
            _member("申请人", monthly_income=Decimal("1000.50")),
            _member("子女", monthly_income=Decimal(0)),
        )
    }
    assert evaluate_policy(policy, facts, date(2025, 1, 1)).amount == Decimal("1617.50")
