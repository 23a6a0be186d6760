"""Knowledge from the hotline: good official replies become candidate entries linked to clauses.

Which replies are good is a pluggable `ReplyQuality` (today: the hand label 可解释性 of the TipDM
reply data; the reply-quality scorer of zhixiang.insight can take its place). Candidates are never
served until a reviewer approves them; personal details are masked before they are stored.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from zhixiang.knowledge._sources import parse_cn_date

MAX_QUESTION_CHARS = 400
MAX_ANSWER_CHARS = 3000
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?)\d{4}(\d{3,4})(?!\d)")


@dataclass(frozen=True)
class HotlineReply:
    source: str  # e.g. taidi2020:12345
    question: str
    answer: str
    answered_on: date | None
    quality: float  # 0..1, how good the reply is judged to be


ReplyQuality = Callable[[dict[str, str]], float]


def labelled_quality(row: dict[str, str]) -> float:
    """The hand label of the data set: 可解释性 1 (adequate) or 0."""
    return 1.0 if str(row.get("可解释性", "")).strip() == "1" else 0.0


def mask_personal(text: str) -> str:
    """Hide mobile numbers, 身份证号 and landlines that citizens wrote into their messages."""
    text = _ID_NUMBER.sub(r"\1********\2", text)
    text = _PHONE.sub(r"\1****\2", text)
    return _LANDLINE.sub(r"\1****\2", text)


def read_replies(
    path: Path, quality: ReplyQuality = labelled_quality, minimum: float = 1.0
) -> Iterator[HotlineReply]:
    """Replies in a messages-with-replies CSV whose quality reaches `minimum`."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            score = quality(row)
            answer = (row.get("答复意见") or "").strip()
            if score < minimum or not answer:
                continue
            title = (row.get("留言主题") or "").strip()
            detail = re.sub(r"\s+", " ", row.get("留言详情") or "").strip()
            question = f"{title} {detail}".strip() if detail and detail != title else title
            yield HotlineReply(
                source=f"{path.parent.name}:{row.get('留言编号') or title[:40]}",
                question=mask_personal(question[:MAX_QUESTION_CHARS]),
                answer=mask_personal(re.sub(r"[ \t]+", " ", answer)[:MAX_ANSWER_CHARS]),
                answered_on=parse_cn_date(_as_cn(row.get("答复时间") or "")),
                quality=score,
            )


def _as_cn(value: str) -> str:
    """2019/2/28 11:25:05 or 2019-08-01 → 2019年2月28日, for one date parser."""
    m = re.match(r"\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})", value)
    return f"{m.group(1)}年{m.group(2)}月{m.group(3)}日" if m else value
