"""Forms: what a person typed, and refusals put next to the field they concern, in Chinese.

Validation itself belongs to the capabilities (their pydantic models and their own checks); this
module only turns their answers into messages a person can act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from starlette.datastructures import FormData, UploadFile

from zhixiang.errors import ZhixiangError

_MESSAGES = {
    "missing": "必填",
    "string_too_short": "必填",
    "string_too_long": "过长：最多 {max_length} 个字符",
    "too_long": "过多：最多 {max_length} 项",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "bool_parsing": "应为是或否",
    "date_from_datetime_parsing": "应为日期，如 2026-06-30",
    "date_parsing": "应为日期，如 2026-06-30",
    "datetime_from_date_parsing": "应为日期时间",
    "greater_than_equal": "不能小于 {ge}",
    "less_than_equal": "不能大于 {le}",
    "greater_than": "应大于 {gt}",
    "less_than": "应小于 {lt}",
    "literal_error": "不是可选的值（可选：{expected}）",
    "enum": "不是可选的值（可选：{expected}）",
    "string_pattern_mismatch": "格式不正确",
    "extra_forbidden": "不认识的字段",
}


def field_message(error: ErrorDetails) -> str:
    """One pydantic error in Chinese; a validator's own (Chinese) message is kept as written."""
    kind = error.get("type", "")
    if kind == "value_error":
        return str(error.get("ctx", {}).get("error", error.get("msg", "")))
    template = _MESSAGES.get(kind)
    if template is None:
        return "取值不正确"
    try:
        return template.format(**error.get("ctx", {}))
    except (KeyError, IndexError):
        return template.split("：")[0]


@dataclass
class Form:
    """The values a form sent, as text, and the messages to show next to each field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None

    @classmethod
    def of(cls, data: FormData, max_length: int = 200_000) -> Form:
        values: dict[str, str] = {}
        for key, value in data.multi_items():
            if isinstance(value, UploadFile):
                continue
            values[key[:100]] = value[:max_length]
        return cls(values)

    def get(self, name: str) -> str | None:
        value = self.values.get(name, "").strip()
        return value or None

    def flag(self, name: str) -> bool:
        return self.values.get(name) in ("on", "true", "1", "yes")

    def refuse(self, name: str, message: str) -> None:
        self.errors.setdefault(name or "_", message)

    def refuse_validation(self, error: ValidationError, prefix: str = "") -> None:
        for e in error.errors():
            name = str(e["loc"][0]) if e["loc"] else "_"
            self.refuse(prefix + name, field_message(e))

    def refuse_error(self, error: ZhixiangError, fields: tuple[str, ...] = ()) -> None:
        """A capability's refusal: next to its field when it is one of the form's visible `fields`,
        else above the form (hidden fields such as `action` have nowhere to show a message)."""
        if error.field and error.field in fields:
            self.refuse(error.field, error.message)
        else:
            self.message = error.message

    @property
    def ok(self) -> bool:
        return not self.errors and self.message is None
