from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from zhixiang.catalog import load_catalog
from zhixiang.rules._evaluate import Evaluator
from zhixiang.rules._language import ExpressionError, ValueType, check, parse


class Scope:
    catalog = load_catalog("enterprise")

    def parameter_type(self, name: str) -> ValueType | None:
        return ValueType.MONEY if name == "门槛" else None


def typed(text: str):
    return check(parse(text), Scope())


def evaluate(text: str, facts: dict, as_of: date = date(2026, 6, 30)):
    return Evaluator(facts, {"门槛": Decimal("1000000")}, as_of)(typed(text))


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("营业收入 >= 2000", "数值请写上单位 元/万元/亿元", 1),
        ("营业收入 >= 成立日期", "金额 不能与 日期 比较", 1),
        ('企业规模 = "小形"', "'小形' 不是 企业规模 的取值", 8),
        ("营业收入 >= 20万吨", "未知单位 万吨", 11),
        ("营收 > 1万元", "未知字段或参数: 营收", 1),
        ("营业收入 >= ", "表达式不完整", 9),
        ("研发投入占比 >= 0.03", "数值请写上单位 %", 1),
        ("min(营业收入, 3%)", "同一类数值", 1),
        ("__import__('os')", "未知函数", 1),
        ("营业收入 * 营业收入 > 1万元", "不能计算 金额 * 金额", 8),
        ("高新技术企业 and 营业收入", "and 需要是/否条件", 12),
        ("within(行业代码, 350211)", "行政区划字段", 8),
        ('within(注册地, "火星区")', "未知行政区划: 火星区", 13),
        ("营业收入 >= 1.123456789元", "小数位过多", 9),
    ],
)
def test_mistakes_are_located_and_explained(text: str, message: str, column: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        typed(text)
    assert message in caught.value.message
    assert caught.value.column == column


def test_units_convert_exactly() -> None:
    assert evaluate("营业收入 >= 2000万元", {"revenue": Decimal("20000000.00")}) is True
    assert evaluate("营业收入 >= 2000万元", {"revenue": Decimal("19999999.99")}) is False
    assert evaluate("营业收入 >= 0.2亿元", {"revenue": Decimal("20000000")}) is True
    assert evaluate("研发投入占比 >= 3%", {"rd_ratio": Decimal("0.03")}) is True


def test_missing_facts_are_unknown_not_false() -> None:
    assert evaluate("营业收入 >= 1万元", {}) is None
    assert evaluate("营业收入 >= 1万元 and 高新技术企业", {"high_tech": False}) is False
    assert evaluate("营业收入 >= 1万元 or 高新技术企业", {"high_tech": True}) is True
    assert evaluate("not 高新技术企业", {}) is None
    assert evaluate("min(研发费用 * 10%, 200万元)", {}) is None
    assert evaluate("is_known(研发费用)", {}) is False


def test_chained_ranges_and_between_and_chinese_keywords() -> None:
    facts = {"revenue": Decimal("30000000"), "scale": "小型"}
    assert evaluate("2000万元 <= 营业收入 < 4亿元", facts) is True
    assert evaluate("营业收入 between 2000万元 and 3000万元", facts) is True
    assert evaluate("营业收入 介于 1万元 且 2万元", facts) is False
    assert (
        evaluate('企业规模 属于 ["小型", "微型"] 且 非 高新技术企业', facts | {"high_tech": False})
        is True
    )
    assert evaluate('企业规模 not in ["小型"]', facts) is False
    assert evaluate("营业收入 ≥ 门槛", facts) is True


def test_dates_regions_and_functions() -> None:
    facts = {"established_on": date(2023, 7, 1), "region_code": "350211", "industry_code": "C39"}
    assert evaluate("years_since(成立日期) < 3年", facts) is True
    assert evaluate("years_since(成立日期) < 3年", facts, as_of=date(2026, 7, 1)) is False
    assert evaluate("months_since(成立日期) >= 35个月", facts) is True
    assert evaluate("成立日期 >= today() - 3年", facts) is True
    assert evaluate('within(注册地, "集美区")', facts) is True
    assert evaluate("within(注册地, 350200)", facts) is True
    assert evaluate('within(注册地, "思明区")', facts) is False
    assert evaluate('starts_with(行业代码, "C")', facts) is True
    assert evaluate("if(高新技术企业, 100万元, 30万元)", {"high_tech": False}) == Decimal("300000")


def test_division_is_exact_to_ten_places_and_by_zero_is_unknown() -> None:
    facts = {"revenue": Decimal("12000000"), "revenue_prev": Decimal("10000000")}
    assert evaluate("(营业收入 - 上年营业收入) / 上年营业收入 >= 20%", facts) is True
    assert evaluate("营业收入 / 上年营业收入 >= 20%", facts | {"revenue_prev": Decimal(0)}) is None
