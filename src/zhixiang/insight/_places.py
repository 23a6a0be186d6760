"""Places and entities in citizens' messages: estates, roads, schools, companies, districts.

The names are found from the data rather than a gazetteer (the real file is anonymised — A市, A3区 —
and any city's estates change every year): every substring that ends in a place word (小区, 路,
学校, 公司 …) is a candidate, and a candidate counts as a place when it recurs in other messages
but is not so common that it names nothing (本小区, 该公司). Where candidates nest (发新城 inside
丽发新城) the longer one is kept unless the shorter recurs on its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: Words a place name ends with, longest first so 幼儿园 wins over 园.
PLACE_WORDS = sorted(
    [
        "小区",
        "花园",
        "家园",
        "新村",
        "新城",
        "山庄",
        "公馆",
        "公寓",
        "大厦",
        "广场",
        "商城",
        "市场",
        "中心",
        "社区",
        "街道",
        "苑",
        "庭",
        "园",
        "城",
        "府",
        "湾",
        "郡",
        "邸",
        "村",
        "组",
        "镇",
        "乡",
        "路",
        "街",
        "大道",
        "巷",
        "桥",
        "隧道",
        "高速",
        "站",
        "线",
        "小学",
        "中学",
        "学校",
        "幼儿园",
        "大学",
        "学院",
        "职院",
        "医院",
        "卫生院",
        "公司",
        "集团",
        "物业",
        "银行",
        "酒店",
        "酒吧",
        "工厂",
        "厂",
        "局",
        "项目",
        "工地",
        "搅拌站",
        "车贷",
    ],
    key=len,
    reverse=True,
)
_PLACE_WORD = re.compile("|".join(PLACE_WORDS))
#: Districts and counties of the (anonymised) city: A3区, A7县, K9县, and the city itself.
AREA = re.compile(r"[A-Z][0-9]{1,2}[区县市]|[A-Z]市")
_NAME_CHAR = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
#: What a name does not start with: pronouns, prepositions, verbs of complaint, generic heads.
_BAD_START = set("的在于和与及对向是了被把将从到给让也都而或我你他她它该本此这那其每各某请望求")
_BAD_START_WORDS = re.compile(
    r"^(反映|投诉|举报|关于|位于|咨询|建议|请问|希望|要求|强烈|严重|附近|周边|所在|整个|一个|一家|"
    r"这个|那个|这些|我们|你们|他们|目前|现在|没有|不是|一直|已经|为什么|为何|何时|什么|怎么|如何)"
)
MIN_NAME, MAX_NAME = 2, 7


@dataclass(frozen=True)
class PlaceIndex:
    """Which candidate names are places in this body of messages, and how many messages name each."""

    frequency: dict[str, int]

    def places(self, text: str) -> list[str]:
        """The places a text names, most specific (rarest) first, without nested repeats."""
        found = {c for c in candidates(text) if c in self.frequency}
        n = self.frequency
        kept = [
            c
            for c in found
            # a part that seldom stands alone (发新城 in 丽发新城), or a whole whose head is noise
            # (品房伊景园滨河苑 around 伊景园滨河苑): the other one is the name
            if not any(
                c != other
                and (
                    (c in other and n[c] < 2 * n[other])
                    or (c.endswith(other) and n[other] >= 2 * n[c])
                )
                for other in found
            )
        ]
        return sorted(kept, key=lambda c: (self.frequency[c], -len(c), c))


def areas(text: str) -> list[str]:
    """Districts, counties and cities named in a text, in order of first mention."""
    return list(dict.fromkeys(m.group(0) for m in AREA.finditer(text)))


def candidates(text: str) -> set[str]:
    """Every substring that could be a place name: 2–7 name characters, then a place word."""
    found: set[str] = set()
    for match in _PLACE_WORD.finditer(text):
        end = match.end()
        start = match.start()
        head = start
        while (
            head > 0
            and start - head < MAX_NAME
            and _NAME_CHAR.match(text[head - 1])
            and text[head - 1] not in _BAD_START
        ):
            head -= 1
        stem = text[head:start]
        last_area = None
        for last_area in AREA.finditer(stem):  # noqa: B007 - the last match is wanted
            pass
        if last_area is not None:  # A市A5区汇金路 → 汇金路: the area is reported apart
            stem = stem[last_area.end() :]
        for cut in range(len(stem) - MIN_NAME + 1 if len(stem) >= MIN_NAME else 0):
            name = stem[cut:]
            if len(name) < MIN_NAME or name[0] in _BAD_START or _BAD_START_WORDS.match(name):
                continue
            if name.isascii() and not name.isdigit():  # A3, K9: an anonymised code, not a name
                continue
            found.add(name + text[start:end])
    return found


def build_index(
    texts: Iterable[str], *, min_messages: int = 2, max_share: float = 0.02
) -> PlaceIndex:
    """Count candidate names over messages; keep those in at least `min_messages` messages and at
    most `max_share` of them (more often than that a name is a common phrase, not a place)."""
    counts: Counter[str] = Counter()
    total = 0
    for text in texts:
        counts.update(candidates(text))
        total += 1
    ceiling = max(min_messages, 50, int(max_share * total))  # small sets: a name can recur a lot
    return PlaceIndex({c: n for c, n in counts.items() if min_messages <= n <= ceiling})


def common_place(places: Sequence[Sequence[str]], frequency: dict[str, int]) -> str | None:
    """The name most of a group's messages share: most messages first, then the longer name."""
    tally: Counter[str] = Counter()
    for names in places:
        tally.update(set(names))
    if not tally:
        return None
    best = max(tally, key=lambda c: (tally[c], len(c), -frequency.get(c, 0), c))
    return best if tally[best] >= max(1, len(places) // 3) else None
