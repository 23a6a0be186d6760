"""Clause structure of real Chinese policy texts: 第X编/章/节, 第X条, 一、, （一）, 1., （1）.

A text becomes a tree of `Node`s, then a list of `Passage`s: the units that are searched and quoted.
A passage is an article (第X条) in laws and regulations; in notices and FAQ pages it is a 一、 or
（一） section short enough to quote. Numbering must run in sequence (1., 2., 3. …), so a line that
merely starts with a number ("1.3人户家庭", "2025年…") is not mistaken for a new item. Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

CN_DIGITS = "零〇一二三四五六七八九十百千两"
_CN = f"[{CN_DIGITS}]+"

# Rank: a marker closes every open node of the same or a deeper rank.
PART, CHAPTER, SECTION, ARTICLE, HEADING, ITEM, SUBITEM, SUBSUBITEM = range(8)
KIND_NAMES = {
    PART: "part",
    CHAPTER: "chapter",
    SECTION: "section",
    ARTICLE: "article",
    HEADING: "heading",
    ITEM: "item",
    SUBITEM: "subitem",
    SUBSUBITEM: "subsubitem",
}
_MARKERS: list[tuple[int, re.Pattern[str]]] = [
    (PART, re.compile(rf"^第({_CN})编[\s　]*(.*)$")),
    (CHAPTER, re.compile(rf"^第({_CN})章[\s　]*(.*)$")),
    (SECTION, re.compile(rf"^第({_CN})节[\s　]*(.*)$")),
    (ARTICLE, re.compile(rf"^第({_CN}|\d+)条((?:之{_CN})?)[\s　]*(.*)$")),
    (HEADING, re.compile(rf"^({_CN})、[\s　]*(.*)$")),
    (ITEM, re.compile(rf"^[（(]({_CN})[）)][\s　]*(.*)$")),
    (SUBITEM, re.compile(r"^(\d{1,2})(?:[.．、]|\s)[\s　]*(.*)$")),
    (SUBSUBITEM, re.compile(r"^[（(](\d{1,2})[）)][\s　]*(.*)$")),
]
MAX_PASSAGE_CHARS = 600  # longer 一、 sections are split into their （一） parts
MAX_HEADING_CHARS = 40


@cache
def chinese_number(text: str) -> int | None:
    """二十二 → 22, 一百零三 → 103, 12 → 12; None for anything else."""
    if text.isdigit():
        return int(text)
    import cn2an

    try:
        return int(cn2an.cn2an(text.replace("两", "二"), "smart"))
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def number_label(rank: int, raw: str, suffix: str = "") -> str:
    """How a clause number is written when cited: 第二十二条, 三、, （一）, 1., （2）."""
    return {
        PART: f"第{raw}编",
        CHAPTER: f"第{raw}章",
        SECTION: f"第{raw}节",
        ARTICLE: f"第{raw}条{suffix}",
        HEADING: f"{raw}、",
        ITEM: f"（{raw}）",
        SUBITEM: f"{raw}.",
        SUBSUBITEM: f"（{raw}）",
    }[rank]


@dataclass
class Node:
    """One structural unit: its number as printed, a heading for containers, its own lines of text."""

    rank: int | None  # None: the preamble or a paragraph of an unstructured text
    number: str = ""
    heading: str = ""
    lines: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return KIND_NAMES.get(self.rank, "paragraph") if self.rank is not None else "preamble"

    def full_text(self) -> str:
        """The verbatim text of this node and everything under it, line by line."""
        own = list(self.lines)
        for child in self.children:
            own.append(child.full_text())
        return "\n".join(line for line in own if line)

    def walk(self) -> list[Node]:
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found


@dataclass(frozen=True)
class Passage:
    """A unit that is searched and quoted verbatim: `label` is how it is cited (第二十二条, 二、（一）)."""

    label: str
    kind: str
    text: str
    context: str  # headings above it (第三章 申请与准入 …), searched but not quoted
    path: tuple[int, ...]  # position of its node in the tree, for linking items and drafts


@dataclass(frozen=True)
class Structure:
    root: Node
    passages: tuple[Passage, ...]
    structured: bool  # False when no clause numbering was found at all


def _clean(line: str) -> str:
    line = line.strip().lstrip("#").strip()
    return line.replace("\u3000", " ").strip()


def _match(line: str) -> tuple[int, str, str, str] | None:
    for rank, pattern in _MARKERS:
        m = pattern.match(line)
        if m:
            if rank == ARTICLE:
                return rank, m.group(1), m.group(2), m.group(3)
            return rank, m.group(1), "", m.group(2)
    return None


def parse_structure(text: str) -> Structure:
    """Split a document's text into its clause tree and its passages."""
    root = Node(rank=None)
    stack: list[Node] = [root]
    last_number: dict[int, int] = {}  # per rank, the number last seen under the current parent
    found_marker = False
    for raw_line in text.splitlines():
        line = _clean(raw_line)
        if not line:
            continue
        hit = _match(line)
        if hit is not None:
            rank, raw, suffix, rest = hit
            value = chinese_number(raw)
            if value is not None and not suffix and _in_sequence(rank, value, stack, last_number):
                while stack[-1].rank is not None and stack[-1].rank >= rank:
                    closed = stack.pop()
                    for deeper in range(closed.rank + 1, 8):  # type: ignore[operator]
                        last_number.pop(deeper, None)
                node = Node(rank=rank, number=number_label(rank, raw, suffix))
                if rank in (PART, CHAPTER, SECTION):
                    node.heading = rest
                else:
                    if rank == HEADING and len(rest) <= MAX_HEADING_CHARS:
                        node.heading = rest
                    node.lines.append(line)
                stack[-1].children.append(node)
                stack.append(node)
                last_number[rank] = value
                found_marker = True
                continue
            if suffix and value is not None and rank == ARTICLE:  # 第十条之一: an inserted article
                while stack[-1].rank is not None and stack[-1].rank >= rank:
                    stack.pop()
                node = Node(rank=rank, number=number_label(rank, raw, suffix), lines=[line])
                stack[-1].children.append(node)
                stack.append(node)
                continue
        stack[-1].lines.append(line)
    return Structure(root, tuple(_passages(root)), found_marker)


def _in_sequence(rank: int, value: int, stack: list[Node], last: dict[int, int]) -> bool:
    """A numbered line opens a node only when it continues the numbering (or starts it at 1)."""
    previous = last.get(rank)
    if rank == ARTICLE:  # articles may restart (attachments) or skip (excerpts), never go back
        return previous is None or value == 1 or value > previous
    if rank in (PART, CHAPTER, SECTION):
        return previous is None or value == 1 or value > previous
    if previous is None:
        return value == 1
    return value in (previous + 1, 1)


def _passages(root: Node) -> list[Passage]:
    found: list[Passage] = []
    has_articles = any(n.rank == ARTICLE for n in root.walk())
    if not root.children:
        _paragraphs(root.lines, "", found, (), "段")
        return found
    if root.lines:
        _paragraphs(root.lines, "", found, (), "序言" if has_articles else "正文")
    _collect(root, [], (), has_articles, found)
    return found


def _collect(
    node: Node,
    headings: list[str],
    path: tuple[int, ...],
    has_articles: bool,
    found: list[Passage],
) -> None:
    for i, child in enumerate(node.children):
        child_path = (*path, i)
        if child.rank in (PART, CHAPTER, SECTION):
            title = f"{child.number} {child.heading}".strip()
            if child.lines:
                _paragraphs(child.lines, title, found, child_path, child.number)
            _collect(child, [*headings, title], child_path, has_articles, found)
        elif child.rank == ARTICLE or (child.rank is not None and child.rank > ARTICLE):
            _unit(child, headings, child_path, found, prefix="")
        else:
            _paragraphs(child.lines, " ".join(headings), found, child_path, child.number)


def _unit(
    node: Node, headings: list[str], path: tuple[int, ...], found: list[Passage], prefix: str
) -> None:
    """An article is always one passage; a long notice section is split into its sub-sections."""
    label = prefix + node.number
    text = node.full_text()
    if node.rank == ARTICLE or len(text) <= MAX_PASSAGE_CHARS or not node.children:
        if len(text) > MAX_PASSAGE_CHARS * 3 and node.rank != ARTICLE and not node.children:
            _paragraphs(node.lines, " ".join(headings), found, path, label)
            return
        found.append(Passage(label, node.kind, text, " ".join(headings), path))
        return
    own_heading = node.heading or (node.lines[0][:MAX_HEADING_CHARS] if node.lines else "")
    if node.lines:
        found.append(Passage(label, node.kind, "\n".join(node.lines), " ".join(headings), path))
    for i, child in enumerate(node.children):
        _unit(child, [*headings, own_heading], (*path, i), found, prefix=label)


def _paragraphs(
    lines: list[str], context: str, found: list[Passage], path: tuple[int, ...], label: str
) -> None:
    """Text without numbering: paragraphs grouped up to the passage size, cited as 第N段."""
    chunk: list[str] = []
    size = 0
    count = 0

    def flush() -> None:
        nonlocal chunk, size, count
        if chunk:
            count += 1
            name = f"{label}第{count}段" if label not in ("", "段") else f"第{count}段"
            found.append(Passage(name, "paragraph", "\n".join(chunk), context, path))
            chunk, size = [], 0

    for line in lines:
        if chunk and size + len(line) > MAX_PASSAGE_CHARS:
            flush()
        chunk.append(line)
        size += len(line)
    flush()
