"""Writing the analyses' tables (UTF-8 with a byte-order mark, so Excel opens them) and quarantine lists."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from zhixiang.errors import InvalidInput
from zhixiang.insight._messages import Problem

TOPIC_COLUMNS = ["排名", "热度指数", "问题描述", "地点/人群", "时间范围", "留言数", "留言编号"]
REPLY_COLUMNS = ["相关性", "完整性", "可解释性", "及时性", "质量分", "问题"]


def write_rows(path: Path, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(columns)
            writer.writerows(rows)
    except OSError as exc:
        raise InvalidInput(f"{path}: 无法写入（{exc.strerror or exc}）", "output") from None


def quarantine_path(output: Path) -> Path:
    return Path(output).with_name(Path(output).stem + ".quarantine.csv")


def write_quarantine(output: Path, problems: Sequence[Problem]) -> Path | None:
    """Beside the output, one row per problem (record number, column, what, what was done)."""
    if not problems:
        return None
    path = quarantine_path(output)
    write_rows(
        path,
        ["记录号", "列", "问题", "处理"],
        ((p.record, p.column, p.message, "隔离" if p.skipped else "忽略该值") for p in problems),
    )
    return path
