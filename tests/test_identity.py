from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from zhixiang.identity import (
    CREDIT_CODE_ALPHABET,
    IdentifierError,
    credit_code_check_char,
    normalize_identifier,
    region_prefix,
    validate_credit_code,
    validate_id_number,
)


@given(st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=17, max_size=17))
def test_credit_code_check_char_agrees_with_python_stdnum(first17: str) -> None:
    assert credit_code_check_char(first17) == uscc.calc_check_digit(first17)


def test_a_credit_code_with_its_check_char_validates() -> None:
    code = "91110000802100433B"
    assert validate_credit_code(code) == code


def test_credit_code_with_wrong_check_char_is_rejected_with_the_expected_char() -> None:
    with pytest.raises(IdentifierError, match="校验位错误: 应为 B"):
        validate_credit_code("91110000802100433C")


def test_full_width_and_lower_case_are_normalised() -> None:
    assert normalize_identifier("９１１１ 0000802100433b") == "91110000802100433B"
    assert validate_credit_code("９１１１0000802100433b") == "91110000802100433B"


def test_id_number_check_digit_and_birth_date() -> None:
    assert validate_id_number("11010519491231002X") == "11010519491231002X"
    with pytest.raises(IdentifierError, match="校验位"):
        validate_id_number("110105194912310021")
    with pytest.raises(IdentifierError, match="出生日期"):
        body = "11010519491331002"
        validate_id_number(body + ric.calc_check_digit(body + "0"))


@pytest.mark.parametrize(
    ("code", "prefix"),
    [("350000", "35"), ("350200", "3502"), ("350211", "350211"), ("350211001000", "350211001")],
)
def test_region_prefix(code: str, prefix: str) -> None:
    assert region_prefix(code) == prefix
