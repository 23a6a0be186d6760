"""Reading message CSVs (the taidi2020 layout) with errors that name the file, record and column."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

TITLE, BODY, LABEL = "留言主题", "留言详情", "一级分类"
PREDICTED, CONFIDENCE = "预测分类", "置信度"


def default_training_data() -> Path:
    """The shared labelled messages: $ZHIXIANG_SHARED_DATA, else ../shared/data beside the repository."""
    from zhixiang.config import load_settings

    return load_settings().shared_data_dir / "taidi2020" / "messages_labeled.csv"


class MessageFileError(ValueError):
    """A message CSV that cannot be used; the text says which file, record and column, and why."""


@dataclass(frozen=True)
class Messages:
    """The rows of a message CSV, with titles and bodies as plain strings (blank where empty)."""

    frame: pd.DataFrame
    titles: list[str]
    bodies: list[str]
    labels: list[str] | None


def read_messages(path: Path, *, labelled: bool = False) -> Messages:
    """Read a CSV with 留言主题 and 留言详情 (and 一级分类 when `labelled`); UTF-8 or GB18030.

    Records are numbered from 1 after the header, as a spreadsheet shows them less one; texts may span
    several lines, so line numbers would mislead.
    """
    path = Path(path)
    if not path.is_file():
        raise MessageFileError(f"{path}: 文件不存在")
    frame = _read_csv(path)
    required = [TITLE, BODY, LABEL] if labelled else [TITLE, BODY]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise MessageFileError(
            f"{path}: 缺少列 {'、'.join(missing)}（需要 {'、'.join(required)}；"
            f"文件中的列为 {'、'.join(map(str, frame.columns)) or '无'}）"
        )
    if frame.empty:
        raise MessageFileError(f"{path}: 没有数据行（只有表头）")
    titles = _texts(frame[TITLE])
    bodies = _texts(frame[BODY])
    for record, (title, body) in enumerate(zip(titles, bodies, strict=True), start=1):
        if not title.strip() and not body.strip():
            raise MessageFileError(f"{path}: 第 {record} 条记录的 {TITLE} 和 {BODY} 都为空")
    labels = None
    if labelled:
        labels = _texts(frame[LABEL])
        for record, label in enumerate(labels, start=1):
            if not label.strip():
                raise MessageFileError(f"{path}: 第 {record} 条记录的 {LABEL} 为空")
        labels = [label.strip() for label in labels]
    return Messages(frame=frame, titles=titles, bodies=bodies, labels=labels)


def _read_csv(path: Path) -> pd.DataFrame:
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
    raise MessageFileError(f"{path}: 无法按 UTF-8 或 GB18030 解码（{last_error}）")


def _texts(column: pd.Series) -> list[str]:
    return ["" if v is None else str(v) for v in column.tolist()]
