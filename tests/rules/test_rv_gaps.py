"""Each condition's gap: how far and how close a threshold is, the day a date holds, scope vs achievable."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhixiang.demo import demo_policies_dir
from zhixiang.rules import (
    ConditionKind,
    PolicyRejected,
    evaluate_policy,
    load_policies,
    parse_policy,
)
from zhixiang.rules._evaluate import Evaluator
from zhixiang.rules._gap import holds_on

POLICIES = {p.id: p for p in load_policies([demo_policies_dir()]).policies}
AS_OF = date(2026, 6, 30)


def _policy(conditions: str) -> object:
    text = f"""
id: t
title: 测试
department: 测试局
source: {{document: 测试文件, clause: 第一条}}
valid: {{from: 2020-01-01, to: 2030-12-31}}
conditions:
{conditions}
"""
    return parse_policy(text, Path("t.yaml"))


def _gap(verdict, condition_id):
    return next(o.gap for o in verdict.conditions if o.id == condition_id)


def test_a_tiny_tax_bill_is_not_a_near_miss_of_a_large_threshold() -> None:
    policy = POLICIES["tax-contribution-award"]
    facts = {"tax_paid": Decimal("119900"), "tax_credit_rating": "A", "tax_arrears": False}
    verdict = evaluate_policy(policy, facts, AS_OF, explain=True)
    assert verdict.failed == ("tax_paid",)
    gap = _gap(verdict, "tax_paid")
    assert gap.kind is ConditionKind.THRESHOLD
    assert gap.closeness == Decimal("0.0120")
    assert gap.shortfall == Decimal("9880100")
    assert gap.describe() == "还差 988.01万元（已达门槛的 1.2%）"
    assert not verdict.near_miss  # one condition missed, but by 98.8%: not "只差一项"


def test_a_tax_bill_just_under_the_threshold_is_a_near_miss() -> None:
    policy = POLICIES["tax-contribution-award"]
    facts = {"tax_paid": Decimal("9750000"), "tax_credit_rating": "A", "tax_arrears": False}
    verdict = evaluate_policy(policy, facts, AS_OF, explain=True)
    assert verdict.closeness == Decimal("0.975") and verdict.near_miss
    assert "还差 25万元" in _gap(verdict, "tax_paid").describe()
    assert "97.5%" in _gap(verdict, "tax_paid").describe()
    assert not verdict.near_miss_at(Decimal("0.98"))


def test_a_missed_ratio_is_told_in_percentage_points() -> None:
    policy = POLICIES["jimei-manufacturing-upgrade"]
    facts = {
        "region_code": "350211",
        "industry_code": "C38",
        "above_scale": True,
        "rd_ratio": Decimal("0.015"),
    }
    verdict = evaluate_policy(policy, facts, AS_OF, explain=True)
    gap = _gap(verdict, "rd_ratio")
    assert gap.shortfall == Decimal("0.005") and gap.closeness == Decimal("0.75")
    assert gap.describe() == "还差 0.5个百分点（已达门槛的 75%）"
    assert verdict.near_miss_at(Decimal("0.7")) and not verdict.near_miss


def test_an_entity_outside_the_scope_is_never_a_near_miss() -> None:
    policy = POLICIES["hightech-first-award"]
    facts = {
        "high_tech": False,
        "high_tech_certified_on": date(2026, 3, 1),
        "region_code": "350211",
        "serious_violation": False,
    }
    verdict = evaluate_policy(policy, facts, AS_OF, explain=True)
    assert verdict.failed == ("hightech",)
    assert _gap(verdict, "hightech").kind is ConditionKind.SCOPE
    assert verdict.closeness is None and not verdict.near_miss
    # the same enterprise with a serious violation it can clear is a near-miss once it is high-tech
    facts |= {"high_tech": True, "serious_violation": True}
    verdict = evaluate_policy(policy, facts, AS_OF, explain=True)
    assert verdict.failed == ("no_violation",)
    assert _gap(verdict, "no_violation").kind is ConditionKind.ACHIEVABLE
    assert verdict.closeness == 1 and verdict.near_miss


def test_a_date_condition_names_the_day_it_will_hold() -> None:
    policy = POLICIES["startup-employment-subsidy"]
    facts = {"established_on": date(2025, 9, 15), "employees": Decimal(8), "scale": "微型"}
    verdict = evaluate_policy(policy, facts, AS_OF, explain=True)
    assert verdict.failed == ("operating",)
    assert _gap(verdict, "operating").holds_on == date(2026, 9, 15)
    assert verdict.holds_on == date(2026, 9, 15)
    assert verdict.closeness is None  # nothing to do but wait: 即将符合, not 差一项
    later = evaluate_policy(policy, facts, date(2026, 9, 15))
    assert later.status == "eligible"
    # a condition that stops holding as time passes (成立不满3年) never will again
    old = evaluate_policy(
        policy, {**facts, "established_on": date(2020, 1, 1)}, AS_OF, explain=True
    )
    assert _gap(old, "young").holds_on is None and old.holds_on is None


def test_a_leap_day_anniversary_falls_on_the_first_of_march() -> None:
    policy = POLICIES["startup-employment-subsidy"]
    facts = {"established_on": date(2024, 2, 29), "employees": Decimal(8), "scale": "微型"}
    verdict = evaluate_policy(policy, facts, date(2025, 1, 10), explain=True)
    assert verdict.holds_on == date(2025, 3, 1)


def test_scope_is_inferred_and_can_be_declared() -> None:
    policy = _policy(
        """
  - {id: a, label: 高企, when: 高新技术企业}
  - {id: b, label: 无欠税, when: not 欠税}
  - {id: c, label: 集美, when: 'within(注册地, "集美区")'}
  - {id: d, label: 纳税, when: 纳税总额 >= 100万元}
  - {id: e, label: 信用, when: '纳税信用等级 in ["A", "B"]', scope: false}
  - {id: f, label: 满2年, when: years_since(成立日期) >= 2年, needs_review: true}
  - {id: g, label: 高企（写成 == true）, when: 高新技术企业 == true}
  - {id: h, label: 无欠税（写成 == false）, when: 欠税 == false}
"""
    )
    kinds = {c.id: c.analysis.kind for c in policy.conditions}
    assert kinds == {
        "a": ConditionKind.SCOPE,
        "b": ConditionKind.ACHIEVABLE,
        "c": ConditionKind.SCOPE,
        "d": ConditionKind.THRESHOLD,
        "e": ConditionKind.ACHIEVABLE,
        "f": ConditionKind.DATE,
        "g": ConditionKind.SCOPE,  # a status, however it is written: no 差一项 for lacking it
        "h": ConditionKind.ACHIEVABLE,
    }
    assert [c.needs_review for c in policy.conditions] == [False] * 5 + [True, False, False]


def test_a_flag_that_is_not_yes_or_no_is_rejected_where_it_stands() -> None:
    with pytest.raises(PolicyRejected) as caught:
        _policy("  - {id: a, label: 高企, when: 高新技术企业, scope: 是的}")
    assert "scope 应为 true 或 false" in str(caught.value)
    assert "t.yaml:" in str(caught.value)


_FORMS = [
    "years_since(成立日期) >= 2年",
    "years_since(成立日期) > 1年",
    "months_since(成立日期) >= 18个月",
    "成立日期 <= today() - 1年",
    "成立日期 <= today() - 6个月",
    "today() > 成立日期",
    "成立日期 + 2年 <= today()",
]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(_FORMS),
    st.one_of(
        st.dates(date(2023, 1, 1), date(2026, 12, 31)),
        st.sampled_from(
            [date(2024, 2, 29), date(2025, 1, 31), date(2025, 3, 31), date(2025, 8, 31)]
        ),
    ),
)
def test_the_day_a_date_condition_holds_is_the_first_day_it_holds(form: str, founded: date) -> None:
    condition = _policy(f"  - {{id: a, label: 时间, when: '{form}'}}").conditions[0]
    rule = condition.analysis.rule
    assert rule is not None, form
    facts = {"established_on": founded}
    day = holds_on(rule, Evaluator(facts, {}, AS_OF))
    assert day is not None
    assert Evaluator(facts, {}, day)(condition.node) is True, (form, founded, day)
    assert Evaluator(facts, {}, day - timedelta(days=1))(condition.node) is False, (
        form,
        founded,
        day,
    )
