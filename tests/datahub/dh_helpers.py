"""Small real-shaped values for the data hub tests."""

from __future__ import annotations

from zhixiang.identity import credit_code_check_char


def credit_code(body: str) -> str:
    """A valid 统一社会信用代码 for a 17-character body."""
    return body + credit_code_check_char(body)
