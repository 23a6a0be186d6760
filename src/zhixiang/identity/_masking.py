"""Masking for messages and logs: the scalar twin of the data hub's column masking (3502**********1234)."""

from __future__ import annotations


def mask_id_number(value: str | None) -> str:
    """Keep the first four and last four characters of a 身份证号; never echo the whole number."""
    if not value:
        return ""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_name(value: str | None) -> str:
    """张三 → 张*: the family name stays so that staff can talk to the person, the rest is hidden."""
    if not value:
        return ""
    return value[0] + "*" * max(1, len(value) - 1)


def mask_id_number_sql(column: str) -> str:
    """The same masking in portable SQL (DuckDB and PostgreSQL), for reasons built in the warehouse."""
    return f"(substr({column}, 1, 4) || '**********' || substr({column}, 15, 4))"
