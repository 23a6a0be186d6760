"""Every identifier rule, with real-format examples, in both implementations (Python and vectorised SQL)."""

from __future__ import annotations

import functools

import duckdb
import pytest
from dh_helpers import credit_code
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from zhixiang.catalog import load_catalog
from zhixiang.datahub._mapping import ColumnMap
from zhixiang.datahub._validate import _region_types, field_rule
from zhixiang.identity import (
    CREDIT_CODE_ALPHABET,
    IdentifierError,
    RegionLevel,
    credit_code_check_char,
    lookup_region,
    normalize_identifier,
    normalize_region_code,
    region_code_source,
    region_code_table,
    validate_credit_code,
    validate_id_number,
    validate_region_code,
)

# Published codes of well-known enterprises (华为, 腾讯, 阿里巴巴(中国)) and the GB 11643 examples.
REAL_CREDIT_CODES = ["914403001922038216", "91440300708461136T", "91330100716105852F"]
REAL_ID_NUMBERS = ["11010519491231002X", "440524188001010014"]


@functools.cache
def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    _region_types(con)
    return con


def sql_check(
    entity: str, field: str, values: list[str | None]
) -> list[tuple[str | None, str | None]]:
    """Run the vectorised rule of one catalog field over `values`: (parsed value, reason) per value."""
    f = load_catalog(entity)[field]
    rule = field_rule(f, ColumnMap(field, field), "r", "v_t")
    con = _con()
    con.execute("CREATE OR REPLACE TEMP TABLE t (i INTEGER, r VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    return con.execute(
        f"""SELECT CAST(v_t AS VARCHAR), {rule.error} AS e FROM (
              SELECT i, r, v_t, {rule.extra} AS x_t FROM (SELECT i, r, {rule.value} AS v_t FROM t)) ORDER BY i"""
    ).fetchall()


@pytest.mark.parametrize("code", REAL_CREDIT_CODES)
def test_real_credit_codes_are_valid_in_python_and_sql(code: str) -> None:
    assert validate_credit_code(code) == code
    assert sql_check("enterprise", "credit_code", [code]) == [(code, None)]


def test_credit_code_is_normalised_from_full_width_spaces_and_lower_case() -> None:
    messy = " ９１４４０３００７０８４６１１３６ｔ "
    assert validate_credit_code(messy) == "91440300708461136T"
    assert sql_check(
        "enterprise", "credit_code", ["９１４４０３００７０８４６１１３６ｔ", "91440300-708461136t"]
    ) == [
        ("91440300708461136T", None),
        ("91440300708461136T", None),
    ]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91440300708461136X", "校验位错误: 应为 T，实为 X"),
        ("9144030070846113", "应为18位，实为16位"),
        ("91440300708461136TT", "应为18位，实为19位"),
        ("9144030070846113IT", "非法字符"),
        (credit_code("A1440300708461136"), "非法字符"),  # GB 32100: positions 1–8 are digits
    ],
)
def test_bad_credit_codes_say_what_is_wrong_in_python_and_sql(code: str, reason: str) -> None:
    with pytest.raises(IdentifierError):
        validate_credit_code(code)
    ((_, sql_reason),) = sql_check("enterprise", "credit_code", [code])
    assert sql_reason is not None and reason in sql_reason


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="0123456789", min_size=8, max_size=8),
    st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=9, max_size=9),
    st.integers(min_value=0, max_value=30),
)
def test_sql_check_character_is_pythons_for_well_formed_codes(
    head: str, tail: str, spoil: int
) -> None:
    """Random codes that pass the character pattern (digits first), with the right check character
    or another one: the SQL check (integer arithmetic over the digits) agrees with Python's."""
    first17 = head + tail
    right = credit_code_check_char(first17)
    given_char = CREDIT_CODE_ALPHABET[(CREDIT_CODE_ALPHABET.index(right) + spoil) % 31]
    code = first17 + given_char
    ((_, reason),) = sql_check("enterprise", "credit_code", [code])
    if given_char == right:
        assert reason is None
    else:
        assert reason is not None and f"校验位错误: 应为 {right}，实为 {given_char}" in reason


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=18, max_size=18))
def test_sql_and_python_agree_on_any_credit_code(code: str) -> None:
    try:
        validate_credit_code(code)
        python_ok = True
    except IdentifierError:
        python_ok = False
    ((_, reason),) = sql_check("enterprise", "credit_code", [code])
    assert (reason is None) == python_ok


@pytest.mark.parametrize("number", REAL_ID_NUMBERS)
def test_gb11643_examples_are_valid_in_python_and_sql(number: str) -> None:
    assert validate_id_number(number) == number
    assert sql_check("person", "id_number", [number.lower()]) == [(number, None)]


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("110105194912310021", "校验位错误: 应为 X，实为 1"),
        ("11010519491231002", "应为18位"),
        ("1101051949123100AX", "前17位应为数字"),
        ("350203" + "19900230" + "123", "出生日期"),  # 30 February, with a valid check digit below
    ],
)
def test_bad_id_numbers_say_what_is_wrong(number: str, reason: str) -> None:
    if len(number) == 17 and number.isdigit() and "出生" in reason:
        number += ric.calc_check_digit(number + "0")  # stdnum ignores the last character
    with pytest.raises(IdentifierError, match=reason.split(":")[0]):
        validate_id_number(number)
    ((_, sql_reason),) = sql_check("person", "id_number", [number])
    assert sql_reason is not None and reason.split(":")[0] in sql_reason


@settings(max_examples=100, deadline=None)
@given(
    st.dates(
        min_value=__import__("datetime").date(1900, 1, 1),
        max_value=__import__("datetime").date(2020, 12, 31),
    ),
    st.sampled_from(["350203", "350211", "110105", "440524"]),
    st.integers(0, 999),
    st.booleans(),
)
def test_sql_and_python_agree_on_id_numbers(birth, region: str, serial: int, spoil: bool) -> None:
    body = f"{region}{birth:%Y%m%d}{serial:03d}"
    check = ric.calc_check_digit(body + "0")  # stdnum ignores the last character
    number = body + (("0" if check != "0" else "1") if spoil else check)
    try:
        validate_id_number(number)
        python_ok = True
    except IdentifierError:
        python_ok = False
    ((_, reason),) = sql_check("person", "id_number", [number])
    assert (reason is None) == python_ok == (not spoil)


def test_region_code_list_has_all_four_levels_and_is_offline() -> None:
    assert lookup_region("350000").level is RegionLevel.PROVINCE
    assert lookup_region("350200").level is RegionLevel.CITY
    assert lookup_region("350211").name == "集美区"
    town = lookup_region("350211001")
    assert town is not None and town.level is RegionLevel.TOWN and town.parent == "350211"
    assert "民政部" in region_code_source()
    levels = set(region_code_table()["level"].to_pylist())
    assert levels == {1, 2, 3, 4}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("350211", "350211"),
        ("３５０２１１", "350211"),
        ("350211001000", "350211001"),  # 12-digit statistical form of a town
        ("350211000000", "350211"),
        (" 350203 ", "350203"),
    ],
)
def test_region_codes_are_normalised_and_validated(raw: str, expected: str) -> None:
    assert validate_region_code(raw) == expected
    assert sql_check("enterprise", "region_code", [raw.strip()]) == [(expected, None)]


@pytest.mark.parametrize(
    ("raw", "reason"), [("350299", "代码表中"), ("35021", "应为6位、9位或12位")]
)
def test_unknown_or_malformed_region_codes_are_rejected(raw: str, reason: str) -> None:
    with pytest.raises(IdentifierError, match=reason):
        validate_region_code(raw)
    ((_, sql_reason),) = sql_check("enterprise", "region_code", [raw])
    assert sql_reason is not None and reason in sql_reason


def test_normalisation_folds_width_spaces_dashes_and_case() -> None:
    assert normalize_identifier("ａｂ－１２ 3") == "AB123"
    assert normalize_region_code("３５０２１１００１０００") == "350211001"


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("13812345678", True),
        ("+8613812345678", True),
        ("138 1234 5678", True),
        ("12812345678", False),
        ("1381234567", False),
    ],
)
def test_mobile_numbers(raw: str, ok: bool) -> None:
    ((_, reason),) = sql_check("person", "phone", [raw])
    assert (reason is None) == ok


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("350211003004GB00123F00010001", True),
        ("350299003004GB00123F00010001", False),  # unknown county
        ("350211003004GB00123X00010001", False),  # unknown 定着物 feature code
        ("350211003004GB00123F0001000", False),
    ],
)
def test_house_unit_numbers(raw: str, ok: bool) -> None:
    ((_, reason),) = sql_check("house", "house_id", [raw])
    assert (reason is None) == ok
