"""Reading message files (the taidi2020 layouts) so that one bad record never stops a run.

Each record is numbered from 1 after the header, as a spreadsheet shows it less one (texts span
several lines, so line numbers would mislead). A record that cannot be used goes to the quarantine
list with its number, column and reason; a bad optional value (a vote count that is not a number)
is set aside with a note and the record is kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from zhixiang.errors import InvalidInput

ID, USER, TITLE, TIME, BODY = "留言编号", "留言用户", "留言主题", "留言时间", "留言详情"
AGAINST, LIKES = "反对数", "点赞数"
REPLY, REPLY_TIME = "答复意见", "答复时间"

_SPACE = re.compile(r"\s+")
_DATE_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d",
    "%Y-%m-%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d",
)


class MessageFileError(InvalidInput):
    """A message file that cannot be used at all (missing, unreadable, columns missing)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one record: which record, which column, what, and what was done."""

    record: int
    column: str
    message: str
    skipped: bool = True

    def __str__(self) -> str:
        action = "该记录已隔离" if self.skipped else "该值已忽略，记录保留"
        return f"第 {self.record} 条记录 {self.column}: {self.message}（{action}）"


@dataclass(frozen=True)
class Message:
    """A citizen message as the analyses need it; `record` points back into the input file."""

    record: int
    id: str
    title: str
    body: str
    time: datetime | None = None
    user: str = ""
    likes: int = 0
    against: int = 0
    reply: str = ""
    reply_time: datetime | None = None

    @property
    def text(self) -> str:
        return f"{self.title} {self.body}".strip()


@dataclass
class MessageTable:
    """The usable messages of a file, the quarantine list, and the file's own rows for writing back."""

    path: Path
    messages: list[Message]
    problems: list[Problem] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=list)

    @property
    def quarantined(self) -> list[Problem]:
        return [p for p in self.problems if p.skipped]


def clean_text(text: str) -> str:
    """The board's texts come wrapped in tabs and newlines: fold all whitespace to single spaces."""
    return _SPACE.sub(" ", text).strip()


def parse_time(value: str) -> datetime:
    """A date or date-time in any of the formats the real files mix (`2019/2/28 11:25:05`, `2019-08-01 10:00:00` …)."""
    text = value.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(
        f"无法识别的日期时间 {value!r}（应如 2019/2/28 11:25:05 或 2019-08-01 10:00:00）"
    )


def read_table(
    path: Path,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    needs_time: bool = False,
) -> MessageTable:
    """Read a message CSV in UTF-8 or GB18030 (GBK) with at least the `required` columns.

    A record with neither title nor body, or without a readable 留言时间 when `needs_time`, is
    quarantined; the rest are returned.
    """
    path = Path(path)
    frame = _read_csv(path)
    columns = [str(c).strip() for c in frame.columns]
    frame.columns = columns
    missing = [c for c in required if c not in columns]
    if missing:
        raise MessageFileError(
            f"{path}: 缺少列 {'、'.join(missing)}（需要 {'、'.join(required)}；"
            f"文件中的列为 {'、'.join(columns) or '无'}）",
            missing[0],
        )
    if frame.empty:
        raise MessageFileError(f"{path}: 没有数据行（只有表头）")
    rows: list[dict[str, str]] = frame.to_dict("records")
    present = set(columns)
    messages: list[Message] = []
    problems: list[Problem] = []
    for record, row in enumerate(rows, start=1):
        message, found = _message(record, row, present, needs_time)
        problems += found
        if message is not None:
            messages.append(message)
    return MessageTable(path, messages, problems, columns, rows)


def _message(
    record: int, row: dict[str, str], present: set[str], needs_time: bool
) -> tuple[Message | None, list[Problem]]:
    def get(column: str) -> str:
        return str(row.get(column) or "") if column in present else ""

    problems: list[Problem] = []
    title, body = clean_text(get(TITLE)), clean_text(get(BODY))
    if not title and not body:
        return None, [Problem(record, f"{TITLE}/{BODY}", "留言主题和留言详情都为空")]
    time = None
    if TIME in present:
        raw = get(TIME)
        if raw.strip():
            try:
                time = parse_time(raw)
            except ValueError as exc:
                problems.append(Problem(record, TIME, str(exc), skipped=needs_time))
        else:
            problems.append(Problem(record, TIME, "为空", skipped=needs_time))
        if needs_time and time is None:
            return None, problems
    counts = {}
    for column in (LIKES, AGAINST):
        counts[column], problem = _count(record, column, get(column))
        if problem:
            problems.append(problem)
    reply_time = None
    if get(REPLY_TIME).strip():
        try:
            reply_time = parse_time(get(REPLY_TIME))
        except ValueError as exc:
            problems.append(Problem(record, REPLY_TIME, str(exc), skipped=False))
    message = Message(
        record=record,
        id=get(ID).strip() or f"#{record}",
        title=title,
        body=body,
        time=time,
        user=get(USER).strip(),
        likes=counts[LIKES],
        against=counts[AGAINST],
        reply=clean_text(get(REPLY)),
        reply_time=reply_time,
    )
    return message, problems


def _count(record: int, column: str, raw: str) -> tuple[int, Problem | None]:
    text = raw.strip()
    if not text:
        return 0, None
    try:
        value = float(text)
    except ValueError:
        return 0, Problem(record, column, f"不是数字：{raw!r}（按 0 计）", skipped=False)
    if value < 0 or value != int(value):
        return 0, Problem(record, column, f"应为非负整数：{raw!r}（按 0 计）", skipped=False)
    return int(value), None


def _read_csv(path: Path):  # type: ignore[no-untyped-def]
    import pandas as pd

    if not path.is_file():
        raise MessageFileError(f"{path}: 文件不存在")
    last_error: Exception | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
        except UnicodeDecodeError as exc:
            last_error = exc
        except pd.errors.EmptyDataError:
            raise MessageFileError(f"{path}: 文件为空，应为带表头的 CSV") from None
        except pd.errors.ParserError as exc:
            raise MessageFileError(f"{path}: 不是有效的 CSV（{exc}）") from None
    raise MessageFileError(f"{path}: 无法按 UTF-8 或 GB18030/GBK 解码（{last_error}）")
