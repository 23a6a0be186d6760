"""Reading departments' extracts (CSV, Excel, Parquet, SQL) into text columns plus their row numbers.

Every reader returns the cells as text so that one vectorised validator sees all formats alike; the
row number is where a person finds the row again (the line of a CSV, the row of an Excel sheet).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from zhixiang.datahub._mapping import Mapping

ROW = "_row"


class ExtractError(ValueError):
    """An extract that cannot be read at all; nothing of it is applied. `row` is where it broke."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


@dataclass(frozen=True)
class Problem:
    """A row that could not be read as a record (e.g. too few columns in a truncated file)."""

    row: int
    field: str
    reason: str
    raw: str | None = None


@dataclass
class Extract:
    table: pa.Table
    problems: list[Problem] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.table.num_rows + len({p.row for p in self.problems})


def read_extract(mapping: Mapping) -> Extract:
    """Read the extract a mapping points at; the needed columns must all be there."""
    readers = {"csv": _read_csv, "excel": _read_excel, "parquet": _read_parquet, "sql": _read_sql}
    extract = readers[mapping.format](mapping)
    needed = [c.column for c in mapping.columns] + [link.column for link in mapping.links]
    missing = [c for c in needed if c not in extract.table.column_names]
    if missing:
        present = "、".join(c for c in extract.table.column_names if c != ROW)
        raise ExtractError(
            f"{mapping.location}: 缺少映射的列 {'、'.join(missing)}；文件中的列为: {present}"
        )
    return extract


# -- CSV --------------------------------------------------------------------------------------------


def _decode(data: bytes, mapping: Mapping) -> bytes:
    """Return UTF-8 bytes; a wrong or unknown encoding is an error naming the line where it broke."""
    encoding = mapping.encoding
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        if encoding in ("auto", "utf-8", "utf8", "utf-8-sig"):
            encoding = "utf-8"
    candidates = ["utf-8", "gb18030"] if encoding == "auto" else [encoding]
    for candidate in candidates:
        try:
            text = data.decode(candidate)
        except UnicodeDecodeError as exc:
            if candidate == candidates[-1]:
                line = data[: exc.start].count(b"\n") + 1
                hint = ""
                if encoding != "auto":
                    try:
                        data.decode("gb18030")
                        hint = "；文件看起来是 GBK/GB18030 编码，请在映射文件中写 encoding: gbk"
                    except UnicodeDecodeError:
                        hint = ""
                raise ExtractError(
                    f"{mapping.location}: 第{line}行不是 {candidate} 编码（字节位置 {exc.start}）{hint}",
                    row=line,
                ) from exc
            continue
        except LookupError as exc:
            raise ExtractError(f"{mapping.location}: 未知编码 {encoding!r}") from exc
        return data if candidate in ("utf-8", "utf8") else text.encode("utf-8")
    raise AssertionError("unreachable")


def _read_csv(mapping: Mapping) -> Extract:
    path = Path(mapping.location)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractError(f"{path}: 无法读取文件 ({exc.strerror})") from exc
    data = _decode(data, mapping)
    first_line = data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    header = next(csv.reader([first_line], delimiter=mapping.delimiter), [])
    if not header or all(not h.strip() for h in header):
        raise ExtractError(f"{path}: 文件为空或没有表头", row=1)
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise ExtractError(f"{path}: 表头列名重复: {'、'.join(duplicates)}", row=1)

    def parse(use_threads: bool) -> tuple[pa.Table, list[tuple[int | None, int, int, str]]]:
        bad: list[tuple[int | None, int, int, str]] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            bad.append((row.number, row.actual_columns, row.expected_columns, row.text))
            return "skip"

        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(use_threads=use_threads, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(
                delimiter=mapping.delimiter, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        return table, bad

    try:
        table, bad = parse(use_threads=True)
        if bad and any(number is None for number, *_ in bad):
            table, bad = parse(use_threads=False)  # the serial reader knows line numbers
    except pa.ArrowInvalid as exc:
        raise ExtractError(f"{path}: CSV 无法解析: {exc}") from exc
    problems = [
        Problem(
            row=int(number or 0),
            field="*",
            reason=(
                f"列数不符: 应为{expected}列，实为{actual}列"
                + ("（文件可能被截断）" if actual < expected else "")
            ),
            raw=text[:500],
        )
        for number, actual, expected, text in bad
    ]
    # Line numbers of the good rows: every line after the header except the skipped ones.
    skipped = np.array(sorted(p.row for p in problems), dtype=np.int64)
    lines = np.arange(2, 2 + table.num_rows + len(skipped), dtype=np.int64)
    if len(skipped):
        lines = lines[~np.isin(lines, skipped)]
    return Extract(table.append_column(ROW, pa.array(lines[: table.num_rows])), problems)


# -- Excel ------------------------------------------------------------------------------------------


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _read_excel(mapping: Mapping) -> Extract:
    """Read a sheet; merged header cells become 'group/column' names, merged data cells fill down."""
    import openpyxl

    path = Path(mapping.location)
    try:
        book = openpyxl.load_workbook(path, data_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ExtractError(f"{path}: 无法读取 Excel 文件 ({exc})") from exc
    except Exception as exc:  # zipfile.BadZipFile and friends: a truncated or non-Excel file
        raise ExtractError(f"{path}: 不是完整的 Excel 文件，可能已损坏或被截断 ({exc})") from exc
    if mapping.sheet is not None and mapping.sheet not in book.sheetnames:
        raise ExtractError(
            f"{path}: 没有工作表 {mapping.sheet!r}；现有: {'、'.join(book.sheetnames)}"
        )
    sheet = book[mapping.sheet] if mapping.sheet is not None else book.worksheets[0]
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    if not cells:
        raise ExtractError(f"{path}: 工作表 {sheet.title} 为空", row=1)
    width = max(len(r) for r in cells)
    cells = [r + [None] * (width - len(r)) for r in cells]
    header_rows = mapping.header_rows
    if header_rows is None:
        header_rows = 1
        for merged in sheet.merged_cells.ranges:
            if merged.min_row == 1:
                header_rows = max(
                    header_rows, merged.max_row, 2 if merged.max_col > merged.min_col else 1
                )
    for merged in sheet.merged_cells.ranges:
        top_left = cells[merged.min_row - 1][merged.min_col - 1]
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                cells[r - 1][c - 1] = top_left
    names = []
    for c in range(width):
        parts: list[str] = []
        for r in range(header_rows):
            text = _cell_text(cells[r][c]) if r < len(cells) else None
            if text and text.strip() and text.strip() not in parts:
                parts.append(text.strip())
        names.append("/".join(parts))
    # A mapping may name a column by its full 'group/column' name or by its last part when unique.
    last_parts = [n.rsplit("/", 1)[-1] for n in names]
    wanted = {c.column for c in mapping.columns} | {link.column for link in mapping.links}
    for i, name in enumerate(names):
        if name not in wanted and last_parts[i] in wanted and last_parts.count(last_parts[i]) == 1:
            names[i] = last_parts[i]
    duplicates = sorted({n for n in names if n and names.count(n) > 1})
    if duplicates:
        raise ExtractError(
            f"{path}: 表头合并单元格使多列同名: {'、'.join(duplicates)}；"
            f"请在映射文件中写 header_rows（现为 {header_rows}）",
            row=header_rows,
        )
    keep = [i for i, n in enumerate(names) if n]
    body = [(i + header_rows + 1, r) for i, r in enumerate(cells[header_rows:])]
    body = [(n, r) for n, r in body if any(v is not None and str(v).strip() for v in r)]
    columns = {names[i]: pa.array([_cell_text(r[i]) for _, r in body], pa.string()) for i in keep}
    columns[ROW] = pa.array([n for n, _ in body], pa.int64())
    return Extract(pa.table(columns))


# -- Parquet and SQL --------------------------------------------------------------------------------


def _as_text(table: pa.Table) -> pa.Table:
    return pa.table(
        {
            name: col if pa.types.is_string(col.type) else pc.cast(col, pa.string())
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
    )


def _read_parquet(mapping: Mapping) -> Extract:
    import pyarrow.parquet as pq

    path = Path(mapping.location)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ExtractError(f"{path}: 无法读取 Parquet 文件，可能已损坏或被截断 ({exc})") from exc
    table = _as_text(table)
    return Extract(table.append_column(ROW, pa.array(np.arange(1, table.num_rows + 1))))


def _sql_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date | dt.datetime | Decimal):
        return value.isoformat() if not isinstance(value, Decimal) else format(value, "f")
    return str(value)


def _read_sql(mapping: Mapping) -> Extract:
    import sqlalchemy as sa

    assert mapping.table is not None
    try:
        engine = sa.create_engine(mapping.location)
        with engine.connect() as conn:
            table = sa.Table(
                mapping.table, sa.MetaData(), schema=mapping.db_schema, autoload_with=conn
            )
            result = conn.execute(sa.select(table))
            names = list(result.keys())
            rows = result.fetchall()
    except sa.exc.SQLAlchemyError as exc:
        where = f"{mapping.db_schema + '.' if mapping.db_schema else ''}{mapping.table}"
        raise ExtractError(f"数据库表 {where} 无法读取: {exc.__class__.__name__}: {exc}") from exc
    finally:
        if "engine" in locals():
            engine.dispose()
    columns = {
        n: pa.array([_sql_text(r[i]) for r in rows], pa.string()) for i, n in enumerate(names)
    }
    columns[ROW] = pa.array(np.arange(1, len(rows) + 1))
    return Extract(pa.table(columns))
