"""Values as a policy officer reads them: 1,250万元, 3.5%, 是/否, 未知."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from zhixiang.rules._language import Value, ValueType


def _trim(number: Decimal, places: int) -> str:
    text = f"{number:,.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(value: Value, vtype: ValueType | None = None, money_places: int = 6) -> str:
    """Exact by default (万元 to six places is to the 分); summaries may ask for fewer places."""
    if value is None:
        return "未知"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        if vtype is ValueType.MONEY:
            if abs(value) >= 10_000:
                return f"{_trim(value / 10_000, money_places)}万元"
            return f"{_trim(value, 2)}元"
        if vtype is ValueType.RATIO:
            return f"{_trim(value * 100, 4)}%"
        if vtype is ValueType.YEARS:
            return f"{_trim(value, 0)}年"
        if vtype is ValueType.MONTHS:
            return f"{_trim(value, 0)}个月"
        return _trim(value, 10)
    return str(value)


def format_money(value: Decimal | None, places: int = 6) -> str:
    return format_value(value, ValueType.MONEY, places)


OPERATOR_LABELS = {"==": "=", "!=": "≠", ">=": "≥", "<=": "≤", ">": ">", "<": "<"}
