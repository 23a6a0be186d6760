"""Check characters and normalisation; validation delegates to python-stdnum, a kept implementation."""

from __future__ import annotations

import unicodedata

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

# GB 32100-2015: 31 characters, without I, O, Z, S, V.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class IdentifierError(ValueError):
    """An identifier that is not well formed; the message says what is wrong in plain words."""


def normalize_identifier(value: str) -> str:
    """Fold full-width characters to ASCII, drop spaces and dashes, and upper-case letters."""
    folded = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in folded if not ch.isspace() and ch != "-").upper()


def credit_code_check_char(first17: str) -> str:
    """The 18th character of a 统一社会信用代码 for its first 17 characters."""
    total = sum(
        CREDIT_CODE_ALPHABET.index(ch) * w
        for ch, w in zip(first17, _CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(value: str) -> str:
    """Return the normalised 统一社会信用代码 or raise IdentifierError saying why it is invalid."""
    code = normalize_identifier(value)
    if len(code) != 18:
        raise IdentifierError(f"统一社会信用代码应为18位，实为{len(code)}位: {value!r}")
    bad = [ch for ch in code if ch not in CREDIT_CODE_ALPHABET]
    if bad:
        raise IdentifierError(f"统一社会信用代码含非法字符 {''.join(bad)!r}: {value!r}")
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        raise IdentifierError(
            f"统一社会信用代码校验位错误: 应为 {expected}，实为 {code[17]}: {value!r}"
        )
    try:
        uscc.validate(code)
    except ValidationError as exc:
        raise IdentifierError(f"统一社会信用代码无效 ({exc}): {value!r}") from exc
    return code


def validate_id_number(value: str) -> str:
    """Return the normalised 18-digit 居民身份证号码 or raise IdentifierError (GB 11643 check, birth date)."""
    number = normalize_identifier(value)
    if len(number) != 18:
        raise IdentifierError(f"身份证号应为18位，实为{len(number)}位")
    if not number[:17].isdigit():
        raise IdentifierError("身份证号前17位应为数字")
    expected = ric.calc_check_digit(number)
    if number[17] != expected:
        raise IdentifierError(f"身份证号校验位错误: 应为 {expected}，实为 {number[17]}")
    try:
        ric.get_birth_date(number)
    except ValidationError as exc:
        raise IdentifierError(f"身份证号出生日期无效: {number[6:14]}") from exc
    if number[:2] not in ID_PROVINCES:
        raise IdentifierError(f"身份证号地址码的省级代码不存在: {number[:2]}")
    return number


# GB/T 2260 province codes (the first two digits of every 身份证号 地址码). A county code may be an old,
# abolished one (people keep their number for life), so only the province is required to exist.
ID_PROVINCES = frozenset(
    f"{code}" for code in (11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37)
)
ID_PROVINCES |= frozenset(f"{code}" for code in (41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54))
ID_PROVINCES |= frozenset(f"{code}" for code in (61, 62, 63, 64, 65, 71, 81, 82))
