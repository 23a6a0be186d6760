"""Reading departments' extracts (CSV, Excel, Parquet, SQL) into text columns plus their row numbers.

Every reader returns the cells as text so that one vectorised validator sees all formats alike; the
row number is where a person finds the row again (the line of a CSV, the row of an Excel sheet).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import os
import tempfile
import weakref
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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


@dataclass(eq=False)
class Extract:
    """Text cells with their row numbers (`table`), or a CSV file DuckDB reads itself (`csv`)."""

    table: pa.Table | None
    problems: list[Problem] = field(default_factory=list)
    csv: CsvFile | None = None

    @property
    def column_names(self) -> list[str]:
        if self.csv is not None:
            return list(self.csv.header)
        assert self.table is not None
        return self.table.column_names

    @property
    def rows_read(self) -> int:
        assert self.table is not None
        return self.table.num_rows + len({p.row for p in self.problems})


def read_extract(mapping: Mapping) -> Extract:
    """Read the extract a mapping points at; the needed columns must all be there."""
    readers = {"csv": _read_csv, "excel": _read_excel, "parquet": _read_parquet, "sql": _read_sql}
    extract = readers[mapping.format](mapping)
    needed = [c.column for c in mapping.columns] + [link.column for link in mapping.links]
    missing = [c for c in needed if c not in extract.column_names]
    if missing:
        present = "、".join(c for c in extract.column_names if c != ROW)
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


@dataclass(frozen=True)
class CsvFile:
    """A CSV extract that DuckDB reads itself, straight into the validation query (no Arrow copy).

    `path` is UTF-8: the extract itself, or a transcoded temporary copy (GBK/GB18030) that lives as long
    as the `Extract` holding it. `lines` counts the physical lines, so that row numbers can be checked.
    """

    path: Path
    header: tuple[str, ...]
    delimiter: str
    lines: int
    source: Path


#: Never a cell's text: DuckDB's reader then turns nothing into NULL (blanks are handled like Excel's).
_NO_NULL = "\x01zx-no-null\x02"


#: The one date format DuckDB's reader is given for the columns it reads as dates (`csv_scan`).
READER_DATE_FORMAT = "%Y-%m-%d"


def csv_scan(
    csv_file: CsvFile,
    rejects: str,
    nulls: tuple[str, ...] | None = None,
    numbered: bool = True,
    types: dict[str, str] | None = None,
) -> str:
    """SQL reading the CSV as text cells, `numbered` with their ordinal `_ord` (1 = first record
    after the header); rows with too few or too many fields go to the temporary table `rejects`
    instead of failing the read.

    `types` has the reader itself parse some columns (DECIMAL, BOOLEAN, or DATE as
    `READER_DATE_FORMAT`); a row with a cell it cannot cast goes to `rejects` too (error type
    CAST), to be read as text.

    With `nulls` the reader itself turns cells that are exactly a placeholder into NULL (cheaper than
    comparing afterwards); without, every cell keeps its raw text. Numbering is a window over the
    whole file (one thread, several seconds a million rows): a scan materialised in file order can
    take the ordinal from the table's rowid instead."""
    types = types or {}
    columns = (
        "{"
        + ", ".join(
            f"{_sql_text_literal(h)}: {_sql_text_literal(types.get(h, 'VARCHAR'))}"
            for h in csv_file.header
        )
        + "}"
    )
    dates = (
        f"dateformat = {_sql_text_literal(READER_DATE_FORMAT)}, "
        if "DATE" in types.values()
        else ""
    )
    path = _sql_text_literal(str(csv_file.path))
    if nulls is None or not nulls:
        null_options = f"nullstr = {_sql_text_literal(_NO_NULL)}, allow_quoted_nulls = false"
    else:
        listed = ", ".join(_sql_text_literal(n) for n in nulls)
        null_options = f"nullstr = [{listed}], allow_quoted_nulls = true"
    options = (
        f"header = true, auto_detect = false, columns = {columns}, "
        f"delim = {_sql_text_literal(csv_file.delimiter)}, quote = '\"', escape = '\"', "
        f"{null_options}, "
        f"store_rejects = true, rejects_table = {_sql_text_literal(rejects)}, "
        f"rejects_scan = {_sql_text_literal(rejects + '_scan')}, {dates}max_line_size = 16777216"
    )
    ordinal = "row_number() OVER () AS _ord, " if numbered else ""
    return f"SELECT {ordinal}* FROM read_csv({path}, {options})"


def csv_head(csv_file: CsvFile, size: int = 256 << 10) -> CsvFile:
    """The first lines of a CSV (about `size` bytes, whole lines) as a temporary file, for trying
    out how the reader takes its columns. Deleted when the returned `CsvFile` is."""
    with csv_file.path.open("rb") as f:
        head = f.read(size)
    if len(head) == size and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]
    fd, name = tempfile.mkstemp(prefix="zhixiang-head-", suffix=".csv")
    with os.fdopen(fd, "wb") as f:
        f.write(head)
    sample = CsvFile(
        Path(name), csv_file.header, csv_file.delimiter, head.count(b"\n"), csv_file.source
    )
    weakref.finalize(sample, _unlink, name)
    return sample


def _sql_text_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _count_lines(path: Path) -> int:
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(16 << 20), b""):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def _read_csv(mapping: Mapping) -> Extract:
    """Check the header and the encoding; the cells are read later by DuckDB (see `csv_scan`).

    A UTF-8 file is read where it lies. Another encoding (or a file that is not UTF-8 when the mapping
    says `auto`) is transcoded once to a temporary UTF-8 copy."""
    path = Path(mapping.location)
    try:
        with path.open("rb") as f:
            head = f.read(1 << 20)
    except OSError as exc:
        raise ExtractError(f"{path}: 无法读取文件 ({exc.strerror})") from exc
    first = head.split(b"\n", 1)[0]
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    utf8 = mapping.encoding in ("auto", "utf-8", "utf8", "utf-8-sig")
    try:
        first_line = first.decode("utf-8") if utf8 else ""
    except UnicodeDecodeError:
        utf8 = False
    extract = Extract(None)
    readable = path
    if not utf8:
        readable = _transcoded(path, mapping, extract)
        with readable.open("rb") as f:
            first = f.read(1 << 20).split(b"\n", 1)[0]
        first_line = first.decode("utf-8")
    header = next(csv.reader([first_line.rstrip("\r")], delimiter=mapping.delimiter), [])
    if not header or all(not h.strip() for h in header):
        raise ExtractError(f"{path}: 文件为空或没有表头", row=1)
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise ExtractError(f"{path}: 表头列名重复: {'、'.join(duplicates)}", row=1)
    extract.csv = CsvFile(readable, tuple(header), mapping.delimiter, _count_lines(readable), path)
    return extract


def transcode_extract(extract: Extract, mapping: Mapping) -> None:
    """DuckDB found bytes that are not UTF-8 further down a file whose head was: decode it the slow way
    (GB18030 when the mapping says `auto`; otherwise the error names the line)."""
    assert extract.csv is not None
    readable = _transcoded(extract.csv.source, mapping, extract)
    extract.csv = CsvFile(
        readable,
        extract.csv.header,
        extract.csv.delimiter,
        _count_lines(readable),
        extract.csv.source,
    )


def _transcoded(path: Path, mapping: Mapping, owner: Extract) -> Path:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractError(f"{path}: 无法读取文件 ({exc.strerror})") from exc
    data = _decode(data, mapping)
    fd, name = tempfile.mkstemp(prefix="zhixiang-extract-", suffix=".csv")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    weakref.finalize(owner, _unlink, name)  # gone with the extract that reads it
    return Path(name)


def _unlink(name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name)


def csv_problem(line: int, expected: int, text: str, error: str) -> Problem:
    """A record DuckDB's reader set aside: too few or too many fields (a cut file), or unreadable."""
    text = text.lstrip("\r\n")
    actual = len(next(csv.reader([text.rstrip("\r\n")]), []))
    if actual != expected:
        reason = f"列数不符: 应为{expected}列，实为{actual}列" + (
            "（文件可能被截断）" if actual < expected else ""
        )
    else:
        reason = f"CSV 无法解析（引号不成对，或引号外还有字符）: {error}"
    return Problem(row=line, field="*", reason=reason, raw=text[:500])


def raw_records(csv_file: CsvFile, lines: list[int]) -> pa.Table:
    """The raw cells of the records at these lines (a file with one record per line), for the
    quarantine: one pass over the lines in Python beats a second parse of every cell."""
    wanted, found = set(lines), {}
    last = max(wanted, default=0)
    with csv_file.path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if number in wanted:
                found[number] = line.decode("utf-8").rstrip("\r\n")
            if number >= last:
                break
    width = len(csv_file.header)
    rows = [next(csv.reader([found[n]], delimiter=csv_file.delimiter)) for n in lines]
    rows = [(r + [""] * width)[:width] for r in rows]
    columns = {
        h: pa.array([r[i] for r in rows], pa.string()) for i, h in enumerate(csv_file.header)
    }
    columns[ROW] = pa.array(lines, pa.int64())
    return pa.table(columns)


def physical_lines(csv_file: CsvFile) -> tuple[np.ndarray, dict[int, int]]:
    """Where each record starts, for a file with quoted line breaks or blank lines (DuckDB numbers
    records, not lines): (physical line of every record in order, DuckDB's line → physical line)."""
    starts: list[int] = []
    duck: dict[int, int] = {}
    with csv_file.path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=csv_file.delimiter)
        next(reader, None)
        seen, duck_line = reader.line_num, 1
        for record in reader:
            duck_line += 1
            if record:
                starts.append(seen + 1)
                duck[duck_line] = seen + 1
            seen = reader.line_num
    return np.array(starts, dtype=np.int64), duck


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
