"""Vectorised validation: a few DuckDB statements turn an extract's text cells into typed catalog facts
and, for every cell that fails, a reason a data officer can act on. No Python loop per row.

Each rule here has a scalar twin in `zhixiang.identity` (tests check that both agree).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zhixiang.catalog import Field, FieldType, Sensitivity, load_catalog
from zhixiang.datahub._mapping import (
    DEFAULT_DATE_FORMATS,
    LINK_KINDS,
    MONEY_UNITS,
    RATIO_UNITS,
    ColumnMap,
    Mapping,
)
from zhixiang.datahub._sources import (
    READER_DATE_FORMAT,
    ROW,
    Extract,
    Problem,
    csv_head,
    csv_problem,
    csv_scan,
    physical_lines,
    raw_records,
    transcode_extract,
)
from zhixiang.identity import CREDIT_CODE_ALPHABET, ID_PROVINCES, region_code_table

QUARANTINE_SCHEMA = pa.schema(
    [
        ("row_number", pa.int64()),
        ("field", pa.string()),
        ("reason", pa.string()),
        ("value", pa.string()),
        ("record", pa.string()),
    ]
)

_FULL_WIDTH = (
    "".join(chr(0xFF10 + i) for i in range(10))
    + "".join(chr(0xFF21 + i) for i in range(26))
    + "".join(chr(0xFF41 + i) for i in range(26))
    + "\u3000－．"
)
_HALF_WIDTH = "0123456789" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "abcdefghijklmnopqrstuvwxyz" + " -."
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_PREFIXES = itertools.count(1)
TRUE_WORDS = ("是", "true", "t", "1", "y", "yes", "有", "√")
FALSE_WORDS = ("否", "false", "f", "0", "n", "no", "无", "×")


# Literal lists are tested with list_contains, never IN (...): DuckDB turns a long IN list into a
# join that every row goes through, even rows a CASE never asks about (several times the cost).


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _normalized(r: str) -> str:
    """Full-width → ASCII, no spaces or dashes, upper case: the SQL twin of normalize_identifier."""
    # translate() is costly; only text with non-ASCII characters (strlen counts bytes) needs it.
    folded = f"CASE WHEN strlen({r}) <> length({r}) THEN translate({r}, {lit(_FULL_WIDTH)}, {lit(_HALF_WIDTH)}) ELSE {r} END"
    return f"upper(regexp_replace({folded}, '[\\s-]', '', 'g'))"


def _credit_value(n: str, i: int) -> str:
    return f"(instr({lit(CREDIT_CODE_ALPHABET)}, substr({n}, {i + 1}, 1)) - 1)"


def _credit_check(n: str) -> str:
    """The check character of a code already matched by the character pattern (for the message)."""
    total = " + ".join(f"{_credit_value(n, i)} * {w}" for i, w in enumerate(_CREDIT_WEIGHTS))
    return f"substr({lit(CREDIT_CODE_ALPHABET)}, ((31 - (({total}) % 31)) % 31) + 1, 1)"


def _credit_sum_ok(n: str) -> str:
    """Whether a code matched by the character pattern carries its check character.

    GB 32100: check = (31 − Σ value·weight mod 31) mod 31, so with the check character's own value
    at weight 1 a right code sums to 0 mod 31: one boolean per row, the expected character only
    for the codes that fail. The 8 leading characters are digits: read as one integer (DuckDB
    computes a repeated top-level expression once) they cost a fraction of 8 lookups."""
    head = f"TRY_CAST(substr({n}, 1, 8) AS INTEGER)"
    total = " + ".join(
        f"({head} // {10 ** (7 - i)} % 10) * {w}" if i < 8 else f"{_credit_value(n, i)} * {w}"
        for i, w in enumerate((*_CREDIT_WEIGHTS, 1))
    )
    return f"(({total}) % 31 = 0)"


def _id_check(n: str) -> str:
    total = " + ".join(
        f"CAST(substr({n}, {i + 1}, 1) AS INTEGER) * {w}" for i, w in enumerate(_ID_WEIGHTS)
    )
    return f"substr('10X98765432', (({total}) % 11) + 1, 1)"


def _id_sum_ok(n: str) -> str:
    """Whether a number matched by the pattern carries its check character (GB 11643): the
    character is '10X98765432'[Σ digit·weight mod 11], i.e. Σ + its value (X = 10) ≡ 1 mod 11."""
    total = " + ".join(
        f"(ascii(substr({n}, {i + 1}, 1)) - 48) * {w}" for i, w in enumerate(_ID_WEIGHTS)
    )
    last = f"(instr('0123456789X', substr({n}, 18, 1)) - 1)"
    return f"(({total} + {last}) % 11 = 1)"


@dataclass(frozen=True)
class _Rule:
    """SQL for one field: clean text → parsed value, and parsed value → reason (NULL when valid)."""

    value: str
    error: str
    # A flag over the parsed value, computed once per row as a column of its own: inside a CASE
    # DuckDB would evaluate it afresh (and leave repeated parts unshared).
    extra: str = "NULL"


def identifier_rule(field_name: str, r: str, v: str) -> _Rule:
    """Rules for standard identifiers, chosen by the catalog field (or link target key) name."""
    n = _normalized(r)
    if field_name == "credit_code":
        ok = v.replace("v_", "x_", 1)  # x_: whether the check character is right
        return _Rule(
            n,
            f"""CASE WHEN {v} IS NULL THEN NULL
            WHEN length({v}) <> 18 THEN '统一社会信用代码应为18位，实为' || length({v}) || '位'
            WHEN NOT regexp_full_match({v}, '[0-9]{{8}}[0-9A-HJ-NPQRTUWXY]{{10}}')
                THEN '统一社会信用代码含非法字符（前8位应为数字，不得含 I、O、Z、S、V）'
            WHEN NOT {ok}
                THEN '统一社会信用代码校验位错误: 应为 ' || {_credit_check(v)} || '，实为 ' || substr({v}, 18, 1)
            END""",
            _credit_sum_ok(v),
        )
    if field_name == "id_number":
        birth = f"try_strptime(substr({v}, 7, 8), '%Y%m%d')"
        ok = v.replace("v_", "x_", 1)  # x_: whether the check character is right
        return _Rule(
            n,
            f"""CASE WHEN {v} IS NULL THEN NULL
            WHEN length({v}) <> 18 THEN '身份证号应为18位，实为' || length({v}) || '位'
            WHEN NOT regexp_full_match({v}, '[0-9]{{17}}[0-9X]') THEN '身份证号前17位应为数字，末位为数字或X'
            WHEN NOT {ok}
                THEN '身份证号校验位错误: 应为 ' || {_id_check(v)} || '，实为 ' || substr({v}, 18, 1)
            WHEN {birth} IS NULL THEN '身份证号中的出生日期不存在'
            WHEN {birth} > current_date THEN '身份证号中的出生日期晚于今天'
            WHEN NOT list_contains([{", ".join(lit(p) for p in sorted(ID_PROVINCES))}], substr({v}, 1, 2))
                THEN '身份证号地址码的省级代码不存在'
            END""",
            _id_sum_ok(v),
        )
    if field_name == "phone":
        return _Rule(
            f"regexp_replace({n}, '^\\+?86', '')",
            f"""CASE WHEN {v} IS NOT NULL AND NOT regexp_full_match({v}, '1[3-9][0-9]{{9}}')
                THEN '手机号码应为以1开头的11位数字' END""",
        )
    if field_name == "house_id":
        return _Rule(
            n,
            f"""CASE WHEN {v} IS NULL THEN NULL
            WHEN NOT regexp_full_match({v}, '[0-9]{{12}}[A-Z]{{2}}[0-9]{{5}}[FLQW][0-9]{{8}}')
                THEN '不动产单元号应为28位: 12位数字、2位字母、5位数字、定着物特征码F/L/Q/W、8位数字'
            WHEN TRY_CAST(substr({v}, 1, 6) AS {_COUNTIES}) IS NULL
                THEN '不动产单元号前6位不是已知的县级行政区划代码: ' || substr({v}, 1, 6)
            END""",
        )
    return _Rule(n, "NULL")


def _echo(field: Field, v: str) -> str:
    """SQL appending the offending value to a reason — masked for personal fields: a reason is
    shown where values are not (quarantine lists, import reports), so it must not carry a 身份证号."""
    if field.sensitivity not in (Sensitivity.PERSONAL, Sensitivity.SENSITIVE_PERSONAL):
        return f" || ': ' || {v}"
    if field.mask == "id_number":
        return f" || ': ' || substr({v}, 1, 4) || '**********' || substr({v}, 15)"
    return " || '（值已隐去）'"


def _number(r: str, scale: int) -> str:
    # DECIMAL(18, s) parses an order of magnitude faster than wider decimals (no 128-bit path).
    plain = f"TRY_CAST({r} AS DECIMAL(18,{scale}))"
    folded = f"translate({r}, {lit(_FULL_WIDTH)}, {lit(_HALF_WIDTH)})"
    cleaned = (
        f"TRY_CAST(regexp_replace({folded}, '[,，¥￥元%\\s]', '', 'g') AS DECIMAL(18,{scale}))"
    )
    return f"COALESCE({plain}, {cleaned})"


def field_rule(field: Field, column: ColumnMap | None, r: str, v: str) -> _Rule:
    """SQL that parses clean text `r` into the field's stored type, and names what is wrong."""
    t = field.type
    label = field.label
    if t is FieldType.IDENTIFIER:
        return identifier_rule(field.name, r, v)
    if t is FieldType.REGION:
        n = _normalized(r)
        # A 12-digit code ending in 000000 or 000 names a county or a township: one pass over the
        # normalised text (a CASE would normalise it once for every branch it asks).
        value = f"regexp_replace({n}, '^(.{{6}})000000$|^(.{{9}})000$', '\\1\\2')"
        return _Rule(
            value,
            f"""CASE WHEN {v} IS NULL THEN NULL
            WHEN NOT regexp_full_match({v}, '[0-9]{{6}}([0-9]{{3}}([0-9]{{3}})?)?')
                THEN '{label}应为6位、9位或12位行政区划代码'{_echo(field, v)}
            WHEN TRY_CAST(substr({v}, 1, 9) AS {_REGIONS}) IS NULL
                THEN '{label}不在国家行政区划代码表中'{_echo(field, v)}
            END""",
        )
    if t is FieldType.MONEY:
        factor = MONEY_UNITS[column.unit] if column and column.unit else 1
        parsed = (
            _number(r, 6) if factor == 1 else f"({_number(r, 6)} * CAST({factor} AS DECIMAL(20,2)))"
        )
        # DECIMAL(18,6) stays below 10^12; only a scaled value can pass what DECIMAL(18,2) holds.
        too_big = "" if factor <= 1 else f"WHEN {v} >= 10000000000000000 THEN '{label}超出范围'"
        return _Rule(
            parsed,
            f"""CASE WHEN {r} IS NULL THEN NULL
            WHEN {v} IS NULL THEN '{label}不是数字或超出范围'
            WHEN {v} < 0 THEN '{label}为负数'
            {too_big}
            END""",
        )
    if t is FieldType.RATIO:
        unit = column.unit if column and column.unit else None
        divisor = (
            str(RATIO_UNITS[unit])
            if unit
            else f"(CASE WHEN contains({r}, '%') THEN 100 ELSE 1 END)"
        )
        return _Rule(
            f"({_number(r, 8)} / {divisor})",
            f"""CASE WHEN {r} IS NULL THEN NULL
            WHEN {v} IS NULL THEN '{label}不是数字或超出范围'
            WHEN {v} < 0 THEN '{label}为负数'
            WHEN {v} >= 1000000 THEN '{label}超出范围'
            END""",
        )
    if t is FieldType.DECIMAL:
        return _Rule(
            _number(r, 6),
            f"""CASE WHEN {r} IS NULL THEN NULL
            WHEN {v} IS NULL THEN '{label}不是数字或超出范围'
            WHEN {v} < 0 THEN '{label}为负数'
            END""",
        )
    if t is FieldType.INTEGER:
        return _Rule(
            _number(r, 6),
            f"""CASE WHEN {r} IS NULL THEN NULL
            WHEN {v} IS NULL OR {v} <> floor({v}) THEN '{label}不是整数'
            WHEN {v} < 0 THEN '{label}为负数'
            END""",
        )
    if t is FieldType.DATE:
        formats = (column.date_formats if column else ()) or DEFAULT_DATE_FORMATS
        fmt_list = "[" + ", ".join(lit(f) for f in formats) + "]"
        shown = (
            " 或 ".join(formats) if column and column.date_formats else "年-月-日，如 2024-01-31"
        )
        return _Rule(
            f"CAST(try_strptime({r}, {fmt_list}) AS DATE)",
            f"""CASE WHEN {r} IS NULL THEN NULL
            WHEN {v} IS NULL THEN '{label}不是有效日期（日期不存在或格式不符，应为 {shown}）'
            WHEN {v} < DATE '1900-01-01' THEN '{label}早于1900年'
            WHEN {v} > CAST(current_date + INTERVAL 1 YEAR AS DATE) THEN '{label}晚于一年后'
            END""",
        )
    if t is FieldType.BOOL:
        trues = ", ".join(lit(w) for w in TRUE_WORDS)
        falses = ", ".join(lit(w) for w in FALSE_WORDS)
        # The usual spellings first, compared as they are; lower() only for the rest.
        return _Rule(
            f"CASE {r} WHEN 'false' THEN false WHEN 'true' THEN true WHEN '否' THEN false WHEN '是' THEN true "
            f"ELSE (CASE WHEN list_contains([{trues}], lower({r})) THEN true "
            f"WHEN list_contains([{falses}], lower({r})) THEN false END) END",
            f"CASE WHEN {r} IS NOT NULL AND {v} IS NULL THEN '{label}应为 是/否' END",
        )
    if t is FieldType.ENUM:
        values = ", ".join(lit(x) for x in field.values)
        return _Rule(
            r,
            f"CASE WHEN {v} IS NOT NULL AND NOT list_contains([{values}], {v}) "
            f"THEN '{label}不在取值范围（{'/'.join(field.values)}）内'{_echo(field, v)} END",
        )
    return _Rule(r, "NULL")


def _stored(field: Field, v: str, scaled: bool = False) -> str:
    """Cast a parsed value to the entity table's type; invalid values become NULL (they are quarantined)."""
    t = field.type
    if t is FieldType.MONEY:
        return (
            f"CASE WHEN {v} >= 0 AND {v} < 10000000000000000 THEN CAST(round({v}, 2) AS DECIMAL(18,2)) END"
            if scaled
            else f"CASE WHEN {v} >= 0 THEN CAST(round({v}, 2) AS DECIMAL(18,2)) END"
        )
    if t is FieldType.DECIMAL:
        return f"CASE WHEN {v} >= 0 THEN CAST(round({v}, 2) AS DECIMAL(18,2)) END"
    if t is FieldType.RATIO:
        return f"CASE WHEN {v} >= 0 AND {v} < 1000000 THEN CAST(round({v}, 6) AS DECIMAL(12,6)) END"
    if t is FieldType.INTEGER:
        return f"CASE WHEN {v} >= 0 AND {v} = floor({v}) THEN CAST({v} AS BIGINT) END"
    return v


def _clean(column: str, codes: tuple[tuple[str, str], ...]) -> str:
    """Source codes become catalog values (blanks and placeholders are already NULL, see _prepared)."""
    raw = ident(column)
    if not codes:
        return raw
    whens = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in codes)
    return f"CASE {raw} {whens} ELSE {raw} END"


def _prepared(table: pa.Table, columns: set[str], nulls: tuple[str, ...]) -> pa.Table:
    """Trim blanks (full-width ones too) and turn placeholders such as '-' or 'N/A' into NULL (unknown).

    Done in Arrow, which does both an order of magnitude faster than SQL string functions.
    """
    placeholders = pa.array([n.strip() for n in nulls], pa.string())
    for i, name in enumerate(table.column_names):
        if name in columns:
            trimmed = pc.utf8_trim(table[name], " \t\r\n\u3000")
            unknown = pc.is_in(trimmed, value_set=placeholders)
            table = table.set_column(
                i, name, pc.if_else(unknown, pa.scalar(None, pa.string()), trimmed)
            )
    return table


_BLANKS = " \t\r\n\u3000"


def _prepared_sql(
    scan: str,
    columns: list[str],
    nulls: tuple[str, ...],
    numbered: bool,
    typed: tuple[str, ...] = (),
) -> str:
    """The SQL twin of `_prepared` over DuckDB's own CSV reader (which already made the cells that
    are exactly a placeholder NULL, see `csv_scan`): trim blanks, then placeholders → NULL. The
    `typed` columns, which the reader parsed itself, pass as they are.

    Most rows have no cell with a blank at either end. One match over the row's cells joined by
    chr(1) finds the rows that may have one (such a cell sits next to a chr(1) or at an end of the
    joined text; a cell holding chr(1) can only send its row down the exact path needlessly), and
    the per-cell test runs on those rows only: one regular expression per row, not one per cell.
    Before it, `contains` (a plain substring search, a third of the cost) looks for any blank in
    the joined text: a row with none cannot have a cell with a blank at either end."""
    ordinal = f"_ord AS {ROW}, " if numbered else ""
    passed = "".join(f", {ident(name)}" for name in typed)
    if not columns:
        return f"SELECT {ordinal}{passed[2:]} FROM ({scan})"
    placeholders = ", ".join(lit(n) for n in _placeholders(nulls))
    blank = f"[{_BLANKS}]"
    joined = f"concat_ws(chr(1), {', '.join(ident(name) for name in columns)})"
    edge = "(^|\\x01)" + blank + "|" + blank + "(\\x01|$)"  # RE2 reads \x01 as that character
    any_blank = " OR ".join(f"contains({_JOINED}, {lit(b)})" for b in _BLANKS)
    flag = f"CASE WHEN {any_blank} THEN regexp_matches({_JOINED}, {lit(edge)}) ELSE false END"
    cells = []
    for name in columns:
        raw = ident(name)
        trimmed = f"trim({raw}, {lit(_BLANKS)})"
        if placeholders:
            # list_contains, not IN: DuckDB turns a long IN list into a join over every row.
            trimmed = (
                f"CASE WHEN list_contains([{placeholders}], {trimmed}) THEN NULL ELSE {trimmed} END"
            )
        exact = (
            f"CASE WHEN regexp_full_match({raw}, {lit(f'[^{_BLANKS}](.*[^{_BLANKS}])?')}) "
            f"THEN {raw} ELSE {trimmed} END"
        )
        cells.append(f"CASE WHEN {_BLANK_ROW} THEN ({exact}) ELSE {raw} END AS {raw}")
    return (
        f"SELECT {ordinal}{', '.join(cells)}{passed} FROM (SELECT *, {flag} AS {_BLANK_ROW} "
        f"FROM (SELECT *, {joined} AS {_JOINED} FROM ({scan})))"
    )


#: The per-row flag of `_prepared_sql` (a name no extract's header is expected to use).
_BLANK_ROW = "_zx_blank_row"
_JOINED = "_zx_joined"


def _placeholders(nulls: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({n.strip() for n in nulls}))


@dataclass
class _CsvRead:
    """What the first scan of a CSV told: its read problems and how ordinals become line numbers."""

    problems: list[Problem]
    rows: int  # records parsed, the retyped ones included
    lines: pa.Table | None  # (ord, line) when records do not sit one per line after the header
    one_per_line: bool
    # Lines with a cell the reader could not cast to its column's type: parsed from their text
    # after the others (their ordinals follow the scan's), so they are checked like any cell.
    retyped: tuple[int, ...] = ()


def _csv_outcome(
    con: duckdb.DuckDBPyConnection, extract: Extract, rejects: str, rows: int
) -> _CsvRead | None:
    """Read problems and line numbers after the first scan; None when the file is not UTF-8 after all."""
    assert extract.csv is not None
    rejected = con.execute(
        f"SELECT line, error_type, csv_line, error_message FROM {rejects} ORDER BY line"
    ).fetchall()
    if any(kind == "INVALID ENCODING" for _l, kind, _t, _m in rejected):
        return None
    by_line: dict[int, tuple[str, str]] = {}  # the records that cannot be read as records
    for line, kind, text, message in rejected:
        if kind != "CAST":
            by_line.setdefault(int(line), (text, message))
    cast = sorted({int(line) for line, kind, *_ in rejected if kind == "CAST"} - set(by_line))
    records = rows + len(by_line) + len(cast)
    one_per_line = extract.csv.lines == 1 + records
    if one_per_line:  # DuckDB's lines are the file's
        mapped = {line: line for line in (*by_line, *cast)}
        starts = None
        if by_line or cast:
            starts = np.arange(2, 2 + records, dtype=np.int64)
    else:  # quoted line breaks or blank lines: find where each record starts
        starts, mapped = physical_lines(extract.csv)
    expected = len(extract.csv.header)
    problems = [
        csv_problem(mapped.get(line, line), expected, text, message)
        for line, (text, message) in by_line.items()
    ]
    retyped = tuple(mapped.get(line, line) for line in cast)
    lines = None
    if starts is not None:
        skipped = np.array(sorted({p.row for p in problems} | set(retyped)), dtype=np.int64)
        good = np.concatenate(
            [starts[~np.isin(starts, skipped)][:rows], np.array(retyped, np.int64)]
        )
        lines = pa.table({"ord": np.arange(1, len(good) + 1, dtype=np.int64), "line": good})
    return _CsvRead(problems, rows + len(retyped), lines, one_per_line, retyped)


@dataclass(frozen=True)
class Validated:
    """Typed rows that passed, and one quarantine row per failing cell (rows that fail are not loaded)."""

    good: pa.Table | None
    quarantine: pa.Table
    rows_read: int
    # Or, validated inside the warehouse's DuckDB connection: a query over its temporary tables.
    good_query: str | None = None
    good_rows: int | None = None
    temporary: tuple[str, ...] = ()  # those temporary tables, dropped once the import is done

    @property
    def rows_loaded(self) -> int:
        return self.good.num_rows if self.good is not None else int(self.good_rows or 0)


def link_column(kind: str) -> str:
    return f"link__{kind}"


def validate_extract(
    mapping: Mapping, extract: Extract, con: duckdb.DuckDBPyConnection | None = None
) -> Validated:
    """Parse and check every mapped cell of an extract in a few vectorised DuckDB statements.

    With `con` (the DuckDB warehouse's own connection) the good rows stay there in temporary tables,
    and `Validated.good_query` selects them, so that they need not travel through Arrow again.
    """
    catalog = mapping.catalog
    own = con is None
    con = duckdb.connect() if con is None else con
    t = f"_zx{next(_PREFIXES)}_"
    views: list[str] = []
    try:
        needed = {c.column for c in mapping.columns} | {link.column for link in mapping.links}
        if extract.csv is None:
            assert extract.table is not None
            con.register(f"{t}raw", extract.table)
            con.register(f"{t}trimmed", _prepared(extract.table, needed, mapping.null_values))
            views += [f"{t}raw", f"{t}trimmed"]
            source = f"{t}trimmed"
        _region_types(con)
        slots: list[
            tuple[str, Field, ColumnMap | None, str]
        ] = []  # (slot, field, column map, source column)
        for i, cm in enumerate(mapping.columns):
            slots.append((f"c{i}", catalog[cm.field], cm, cm.column))
        for i, link in enumerate(mapping.links):
            target = load_catalog(LINK_KINDS[link.kind][1])
            slots.append((f"l{i}", target[target.key], None, link.column))
        clean = ", ".join(
            f"{_clean(col, cm.codes if cm else ())} AS r_{s}" for s, _f, cm, col in slots
        )
        parsing = {s: field_rule(f, cm, f"r_{s}", f"v_{s}") for s, f, cm, _c in slots}
        parsed = ", ".join(f"{parsing[s].value} AS v_{s}" for s, *_ in slots)
        # Checks see only whether a cell was filled (p_) and its parsed value (v_).
        rules = {
            s: field_rule(f, cm, f"(CASE WHEN p_{s} THEN 1 END)", f"v_{s}")
            for s, f, cm, _c in slots
        }
        key_slot = next(s for s, f, cm, _c in slots if cm is not None and cm.column == mapping.key)
        key_label = catalog[catalog.key].label
        checks = []
        for s, _f, _cm, _c in slots:
            error = rules[s].error
            if s == key_slot:
                error = f"CASE WHEN NOT p_{s} THEN '缺少主键（{key_label}）' ELSE {error} END"
            checks.append(f"{error} AS e_{s}")
        extras = ", ".join(f"{rules[s].extra} AS x_{s}" for s, *_ in slots)
        columns = {
            s: ident(f.name if cm is not None else link_column(_link_kind(mapping, s)))
            for s, f, cm, _c in slots
        }
        scaled = {
            s: bool(cm and cm.unit and MONEY_UNITS.get(cm.unit, 1) > 1) for s, _f, cm, _c in slots
        }
        stored = ", ".join(
            f"{_stored(f, f'v_{s}', scaled[s])} AS {columns[s]}" for s, f, cm, _c in slots
        )
        # Duplicates are told by `key`: the key's stored column where that is its parsed value
        # itself, else a column `_key` of its own (`kept`).
        key_field = next(f for s, f, _cm, _c in slots if s == key_slot)
        if len(catalog.keys) > 1:  # a link kind: its rows are told apart by all its key columns
            parts = [s for s, f, cm, _c in slots if cm is not None and f.name in catalog.keys]
            key, kept = "_key", f"concat_ws('|', {', '.join(f'v_{s}' for s in parts)}) AS _key, "
        elif _stored(key_field, "v", scaled[key_slot]) != "v":
            key, kept = "_key", f"v_{key_slot} AS _key, "
        else:
            key, kept = columns[key_slot], ""
        # A row's reasons, one list entry per slot, only for rows that fail (most have none).
        failing = ", ".join(f"e_{s}" for s, *_ in slots)
        reasons = ", ".join(f"CAST(e_{s} AS VARCHAR)" for s, *_ in slots)
        verdict = (
            f"e_{key_slot} IS NULL AS _key_ok, "
            f"CASE WHEN coalesce({failing}) IS NULL THEN NULL ELSE [{reasons}] END AS _errors"
        )
        present = ", ".join(f"r_{s} IS NOT NULL AS p_{s}" for s, *_ in slots)

        def staged(source: str, numbered: bool = True, typed: dict[str, str] | None = None) -> str:
            """Parse, check and cast in one statement: stacked projections compute each parsed value
            once, and only what is kept is materialised (stored values, the key's verdict and the
            reasons of failing rows), so no per-cell flags or parsed copies are written."""
            row = f"{ROW}, " if numbered else ""
            values = parsed
            if typed:  # the reader parsed these columns: their values are the cells themselves
                values = ", ".join(
                    f"{f'r_{s}' if col in typed else parsing[s].value} AS v_{s}"
                    for s, _f, _cm, col in slots
                )
            return (
                f"SELECT {row}{stored}, {kept}{verdict} FROM (SELECT *, {', '.join(checks)} "
                f"FROM (SELECT *, {extras} FROM (SELECT {row}{values}, {present} "
                f"FROM (SELECT {row}{clean} FROM {source}))))"
            )

        def parse(source: str, numbered: bool = True, typed: dict[str, str] | None = None) -> str:
            return f"CREATE TEMP TABLE {t}parsed AS {staged(source, numbered, typed)}"

        read: _CsvRead | None = None
        line = ROW
        # A CSV scan materialised in file order numbers its records by rowid (see csv_scan).
        numbered = extract.csv is None or not _keeps_order(con)
        if extract.csv is None:
            con.execute(parse(source))
            problems = list(extract.problems)
        else:
            nulls = _placeholders(mapping.null_values)
            order = sorted(needed, key=list(extract.csv.header).index)
            typed = {} if numbered else _reader_types(con, mapping, slots, extract, t)
            for _attempt in range(4):  # typed, transcoded, as text, both
                scan = csv_scan(extract.csv, f"{t}rejects", nulls, numbered, typed)
                text = [c for c in order if c not in typed]
                prepared = _prepared_sql(scan, text, mapping.null_values, numbered, tuple(typed))
                con.execute(parse(f"({prepared})", numbered, typed))
                rows = _scalar(con, f"SELECT count(*) FROM {t}parsed")
                read = _csv_outcome(con, extract, f"{t}rejects", int(rows))
                con.execute(f"DROP TABLE IF EXISTS {t}rejects")
                con.execute(f"DROP TABLE IF EXISTS {t}rejects_scan")
                if read is not None and read.retyped:
                    if read.one_per_line and len(read.retyped) <= _RETYPED_AT_MOST * read.rows:
                        # The few rows with a cell the reader could not cast: parsed from their
                        # text, every cell, as an extract without a reader's types would be.
                        raw = raw_records(extract.csv, list(read.retyped))
                        con.register(f"{t}retyped", _prepared(raw, needed, mapping.null_values))
                        views.append(f"{t}retyped")
                        con.execute(f"INSERT INTO {t}parsed {staged(f'{t}retyped', False)}")
                        break
                elif read is not None:
                    break
                con.execute(f"DROP TABLE {t}parsed")
                if read is None:
                    transcode_extract(extract, mapping)  # not UTF-8 after all (or an error)
                else:  # many such rows, or records across lines: read every cell as text
                    typed, read = {}, None
            assert read is not None
            problems = list(extract.problems) + read.problems
            line = f"{ROW} + 1"
            if read.lines is not None:
                con.register(f"{t}lines", read.lines)
                views.append(f"{t}lines")
                line = f"(SELECT line FROM {t}lines WHERE ord = {ROW})"
        ordinal = "" if numbered else f", rowid + 1 AS {ROW}"
        ordered = f"(SELECT *{ordinal} FROM {t}parsed)"  # {ROW}: the ordinal
        if read is not None and read.lines is not None:  # the good query needs them too
            con.execute(f"CREATE TEMP TABLE {t}line AS SELECT * FROM {t}lines")
            line = f"(SELECT line FROM {t}line WHERE ord = {ROW})"
        # The failing rows ({ROW}: line, _ord: ordinal) with their reasons.
        con.execute(
            f"""CREATE TEMP TABLE {t}checked AS SELECT {line} AS {ROW}, {ROW} AS _ord, _errors
            FROM {ordered} WHERE _errors IS NOT NULL"""
        )
        # Duplicate keys within one extract: every copy is quarantined, naming the other rows.
        con.execute(
            f"""CREATE TEMP TABLE {t}dup_rows AS SELECT {line} AS {ROW}, {ROW} AS _ord, {key} AS k
            FROM {ordered} WHERE {key} IN (SELECT {key} FROM {t}parsed WHERE _key_ok
                                        GROUP BY 1 HAVING count(*) > 1)"""
        )
        con.execute(
            f"""CREATE TEMP TABLE {t}dups AS SELECT k, count(*) AS n,
            string_agg(CAST({ROW} AS VARCHAR), '、' ORDER BY {ROW}) AS rows
            FROM {t}dup_rows GROUP BY 1"""
        )
        names = {
            s: (f.name if cm is not None else f"link:{_link_kind(mapping, s)}")
            for s, f, cm, _c in slots
        }
        source_column = {s: col for s, _f, _cm, col in slots}
        errors = " UNION ALL ".join(
            f"SELECT {ROW} AS row_number, {lit(names[s])} AS field, _errors[{i}] AS reason, "
            f"{lit(source_column[s])} AS src FROM {t}checked WHERE _errors[{i}] IS NOT NULL"
            for i, (s, *_) in enumerate(slots, start=1)
        )
        # A personal key (身份证号) is never echoed in a reason: the rows say where the copies are.
        personal_key = any(
            catalog[k].sensitivity in (Sensitivity.PERSONAL, Sensitivity.SENSITIVE_PERSONAL)
            for k in catalog.keys
        )
        key_echo = (
            _echo(catalog[catalog.keys[0]], "d.k")
            if len(catalog.keys) == 1
            else ("" if personal_key else " || ': ' || d.k")
        )
        dups = (
            f"SELECT c.{ROW}, {lit(catalog.key)}, '主键重复'{key_echo} || ' 在本来源中出现' || d.n || '次（行 ' || d.rows || '）', "
            f"{lit(source_column[key_slot])} FROM {t}dup_rows c JOIN {t}dups d ON c.k = d.k"
        )
        con.execute(f"CREATE TEMP TABLE {t}bad AS {errors} UNION ALL {dups}")
        bad_rows = pa.array(
            [r for (r,) in con.execute(f"SELECT DISTINCT row_number FROM {t}bad").fetchall()],
            pa.int64(),
        )
        if extract.csv is None:
            # Filtering in Arrow touches only the row-number column of the (large) raw extract.
            assert extract.table is not None
            con.register(
                f"{t}bad_raw",
                extract.table.filter(pc.is_in(extract.table[ROW], value_set=bad_rows)),
            )
            views.append(f"{t}bad_raw")
        elif read is not None and read.one_per_line:  # the raw cells of the bad rows
            con.register(f"{t}bad_raw", raw_records(extract.csv, bad_rows.to_pylist()))
            views.append(f"{t}bad_raw")
        else:  # records across lines: a second scan, keeping only the bad rows
            assert read is not None
            ords = _ordinals(bad_rows, read.lines)
            con.register(f"{t}bad_ords", pa.table({"ord": ords, "line": bad_rows}))
            views.append(f"{t}bad_ords")
            scan = csv_scan(extract.csv, f"{t}rejects")
            con.execute(
                f"""CREATE TEMP TABLE {t}bad_raw AS SELECT s.* EXCLUDE (_ord), b.line AS {ROW}
                FROM ({scan}) s JOIN {t}bad_ords b ON s._ord = b.ord"""
            )
        value = (
            "CASE b.src "
            + " ".join(
                f"WHEN {lit(col)} THEN r.{ident(col)}"
                for col in dict.fromkeys(source_column.values())
            )
            + " END"
        )
        quarantine = con.sql(
            f"""SELECT b.row_number, b.field, b.reason, {value} AS value,
                CAST(to_json(r) AS VARCHAR) AS record
            FROM {t}bad b JOIN {t}bad_raw r ON r.{ROW} = b.row_number ORDER BY 1, 2"""
        ).to_arrow_table()
        good_sql = f"SELECT {', '.join(columns.values())}, {line} AS {ROW} FROM {ordered} p"
        if len(bad_rows):
            # Rejected ordinals: a failing cell or a duplicate key (few: the anti-join is cheap; a
            # filter on `_errors` costs the insert more, and deleting them from `parsed` instead
            # makes every later scan of it check deletions: the entity table's insert cost 40%
            # more or worse). p.{ROW} is the ordinal.
            con.execute(
                f"""CREATE TEMP TABLE {t}rejected AS SELECT _ord FROM {t}checked
                UNION SELECT _ord FROM {t}dup_rows"""
            )
            good_sql += f" WHERE p.{ROW} NOT IN (SELECT _ord FROM {t}rejected)"
        read_problems = _problems_table(problems)
        quarantine = pa.concat_tables([read_problems, quarantine.cast(QUARANTINE_SCHEMA)])
        rows_read = (
            extract.rows_read if read is None else read.rows + len({p.row for p in problems})
        )
        if own:
            good = con.sql(good_sql).to_arrow_table().cast(_good_schema(mapping))
            return Validated(good, quarantine, rows_read)
        count = _scalar(con, f"SELECT count(*) FROM ({good_sql})")
        kept_tables = (f"{t}parsed", f"{t}rejected", f"{t}line")
        return Validated(None, quarantine, rows_read, good_sql, int(count), kept_tables)
    finally:
        for view in views:
            con.unregister(view)
        dropped = ("checked", "dup_rows", "dups", "bad", "bad_raw", "rejects", "rejects_scan")
        for table in dropped if not own else (*dropped, "parsed", "rejected", "line"):
            con.execute(f"DROP TABLE IF EXISTS {t}{table}")
        if own:
            con.close()


#: Region codes as ENUM types: a cast to one is a hash lookup inside the row's own expression, where
#: a `NOT IN (SELECT …)` would join, and a join's output need not keep the scan's order (the CSV's
#: records are numbered by that order).
_REGIONS, _COUNTIES = "_zx_region", "_zx_county"


def _region_types(con: duckdb.DuckDBPyConnection) -> None:
    """The connection's region code types (temporary; made once per connection)."""
    made = _scalar(
        con,
        f"SELECT count(*) FROM duckdb_types() WHERE database_name = 'temp' AND type_name = '{_REGIONS}'",
    )
    if made:
        return
    con.register("_zx_regions_arrow", region_code_table())
    try:
        con.execute(
            f"CREATE TEMP TYPE {_COUNTIES} AS ENUM "
            "(SELECT DISTINCT code FROM _zx_regions_arrow WHERE level = 3 ORDER BY code)"
        )
        con.execute(
            f"CREATE TEMP TYPE {_REGIONS} AS ENUM "
            "(SELECT DISTINCT code FROM _zx_regions_arrow ORDER BY code)"
        )
    finally:
        con.unregister("_zx_regions_arrow")


def _keeps_order(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a table created from a scan holds its rows in the scan's order (DuckDB's default)."""
    return bool(_scalar(con, "SELECT current_setting('preserve_insertion_order')"))


#: Field types DuckDB's CSV reader parses itself, as the text rule would (`_reader_types`).
_READER_TYPES = {
    FieldType.MONEY: "DECIMAL(18,6)",
    FieldType.DECIMAL: "DECIMAL(18,6)",
    FieldType.INTEGER: "DECIMAL(18,6)",
    FieldType.DATE: "DATE",
    FieldType.BOOL: "BOOLEAN",  # true/false, t/f, 1/0, y/n, yes/no in any case: all TRUE/FALSE_WORDS
}
#: Beyond this share of rows with a cell the reader could not cast, the file is read again as text.
_RETYPED_AT_MOST = 0.05
#: How much of a file's head the reader's types are tried on (`_reader_types`).
_TRIAL_BYTES = 256 << 10
#: Tests set this False to hold the reader's types to the all-text path they replace.
READER_TYPES = True


def _reader_types(
    con: duckdb.DuckDBPyConnection,
    mapping: Mapping,
    slots: list[tuple[str, Field, ColumnMap | None, str]],
    extract: Extract,
    t: str,
) -> dict[str, str]:
    """Columns DuckDB's reader can parse itself ({CSV column: SQL type}): numbers, dates, yes/no.

    Reading a number or a date as text and casting it in SQL costs about as much again as reading
    it typed. What the reader accepts it parses as the text rule's first step would (the same
    DECIMAL cast; a date in the rule's first format, blanks at either end allowed by both; the
    English yes/no words), so the values are the same; a cell it cannot cast (a thousands
    separator, full-width digits, '元', another date format, 是/否) sends its row to the text
    path. A column qualifies when it holds nothing but its own field (no codes, no unit to scale)
    and the file's first `_TRIAL_BYTES` cast cleanly; a file that fails often further down is read
    again as text (`_RETYPED_AT_MOST`)."""
    assert extract.csv is not None
    if not READER_TYPES:
        return {}
    uses = Counter(col for *_s, col in slots)
    candidates = {}
    for _s, f, cm, col in slots:
        sql_type = _READER_TYPES.get(f.type)
        if sql_type is None or cm is None or cm.codes or cm.unit or uses[col] > 1:
            continue
        if f.type is FieldType.DATE and (cm.date_formats or DEFAULT_DATE_FORMATS)[0] != (
            READER_DATE_FORMAT
        ):
            continue
        candidates[col] = sql_type
    if not candidates:
        return {}
    head = csv_head(extract.csv, _TRIAL_BYTES)
    scan = csv_scan(head, f"{t}trial", _placeholders(mapping.null_values), False, candidates)
    try:
        read = " OR ".join(f"{ident(col)} IS NOT NULL" for col in candidates)  # not pruned
        con.execute(f"SELECT count(*) FROM ({scan}) WHERE {read}").fetchall()
        failed = {
            column
            for (column,) in con.execute(
                f"SELECT DISTINCT column_name FROM {t}trial WHERE error_type = 'CAST'"
            ).fetchall()
        }
    except duckdb.Error:  # whatever the trial cannot read, the text path reports properly
        return {}
    finally:
        con.execute(f"DROP TABLE IF EXISTS {t}trial")
        con.execute(f"DROP TABLE IF EXISTS {t}trial_scan")
    return {col: sql_type for col, sql_type in candidates.items() if col not in failed}


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The one value of a query that always returns one row (count(*), current_setting …)."""
    row = con.execute(sql).fetchone()
    assert row is not None, sql
    (value,) = row
    return value


def _ordinals(lines: pa.Array, mapped: pa.Table | None) -> pa.Array:
    """The reader's ordinals of records at these lines (the inverse of the line numbering)."""
    if mapped is None:
        return pc.subtract(lines, 1)
    at = pc.index_in(lines, value_set=mapped["line"])
    return pc.take(mapped["ord"], at)


def _link_kind(mapping: Mapping, slot: str) -> str:
    return mapping.links[int(slot[1:])].kind


def _good_schema(mapping: Mapping) -> pa.Schema:
    catalog = mapping.catalog
    fields = [(cm.field, catalog[cm.field].arrow_type) for cm in mapping.columns]
    fields += [(link_column(link.kind), pa.string()) for link in mapping.links]
    return pa.schema([*fields, (ROW, pa.int64())])


def _problems_table(problems: list[Problem]) -> pa.Table:
    return pa.table(
        {
            "row_number": pa.array([p.row for p in problems], pa.int64()),
            "field": pa.array([p.field for p in problems], pa.string()),
            "reason": pa.array([p.reason for p in problems], pa.string()),
            "value": pa.array([None] * len(problems), pa.string()),
            "record": pa.array([p.raw for p in problems], pa.string()),
        },
        schema=QUARANTINE_SCHEMA,
    )
