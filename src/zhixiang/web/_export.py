"""Tables as files: CSV (UTF-8 with BOM, so Excel shows Chinese) and Excel (openpyxl).

A cell that starts like a formula (= + - @) is written as text, so a citizen's message can never
run as a formula in an officer's spreadsheet (CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import Response

from zhixiang.errors import InvalidInput

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAX_ROWS = 100_000


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value if isinstance(value, int | float) else str(value)


def export(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    filename: str,
    fmt: str,
) -> Response:
    """`rows` as a download; `columns` are (key, 中文表头) pairs in order."""
    if fmt not in FORMATS:
        raise InvalidInput(f"导出格式应为 csv 或 xlsx，收到 {fmt!r}", "format")
    table = [[_cell(row.get(key)) for key, _ in columns] for row in rows][:MAX_ROWS]
    header = [label for _, label in columns]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(table)
        body = ("\ufeff" + buffer.getvalue()).encode("utf-8")
    else:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet(filename[:31])
        sheet.append(header)
        for line in table:
            sheet.append(line)
        out = io.BytesIO()
        book.save(out)
        body = out.getvalue()
    name = quote(f"{filename}.{fmt}")
    return Response(
        body,
        media_type=FORMATS[fmt],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )
