"""Answers assembled from clauses: validity of each source, the plain extractive answer, confidence.

Pure functions over values the library hands in, so they are tested without a database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

# Calibrated by cross-validation on 124 answerable and 95 unanswerable questions over the whole
# library (benchmarks/knowledge_bench.py; figures in docs/knowledge.md): below this confidence the
# library answers 未找到依据 rather than quote a weak match.
NO_BASIS_THRESHOLD = 0.5
NO_BASIS = "未找到依据"
MAX_CITATIONS = 3
_SENTENCE = re.compile(r"[^。；！？\n]+[。；！？]?")


@dataclass(frozen=True)
class DocumentInfo:
    """What an answer says about a source document."""

    id: int
    title: str
    doc_no: str
    issuer: str
    region: str
    kind: str
    audience: tuple[str, ...]
    issued_on: date | None
    effective_on: date | None
    expires_on: date | None
    repealed: bool
    superseded_by: int | None
    source_url: str


@dataclass(frozen=True)
class Validity:
    in_force: bool
    label: str  # 现行有效 / 已于2023-06-01失效 / 已被《…》取代 / 尚未施行 / 已废止


def validity(doc: DocumentInfo, as_of: date, successor: DocumentInfo | None = None) -> Validity:
    """Whether `doc` is in force on `as_of`, and how to say so next to a quotation."""
    if doc.repealed:
        return Validity(False, "已废止")
    if successor is not None:
        number = f"（{successor.doc_no}）" if successor.doc_no else ""
        return Validity(False, f"已被《{successor.title}》{number}取代")
    if doc.effective_on and doc.effective_on > as_of:
        return Validity(False, f"尚未施行（{doc.effective_on.isoformat()}起施行）")
    if doc.expires_on and doc.expires_on < as_of:
        return Validity(False, f"已于{doc.expires_on.isoformat()}失效")
    if doc.expires_on:
        return Validity(True, f"现行有效（有效期至{doc.expires_on.isoformat()}）")
    return Validity(True, "现行有效（未载明有效期）")


@dataclass(frozen=True)
class Citation:
    document_id: int
    clause_id: int
    title: str
    doc_no: str
    issuer: str
    clause: str  # 第二十二条, 三、（一）
    text: str  # verbatim
    in_force: bool
    validity: str
    issued_on: date | None
    source_url: str
    score: float

    @property
    def reference(self) -> str:
        number = f"（{self.doc_no}）" if self.doc_no else ""
        return f"《{self.title}》{number}{self.clause}"


@dataclass(frozen=True)
class Reply:
    """An approved hotline reply that answered a similar question."""

    candidate_id: int
    question: str
    answer: str
    answered_on: date | None
    clause_ids: tuple[int, ...]


@dataclass(frozen=True)
class Answer:
    question: str
    found: bool
    answer: str
    confidence: float
    citations: tuple[Citation, ...] = ()
    suggestions: tuple[str, ...] = ()  # titles of the closest documents when nothing was found
    notes: tuple[str, ...] = ()
    replies: tuple[Reply, ...] = ()
    rewritten: bool = False
    as_of: date | None = None
    filters: dict[str, str] = field(default_factory=dict)


def coverage(query_weights: dict[str, float], passage_tokens: set[str]) -> float:
    """The share of the question's weight (inverse document frequency) found in a passage."""
    total = sum(query_weights.values())
    if total <= 0:
        return 0.0
    return sum(w for t, w in query_weights.items() if t in passage_tokens) / total


def key_sentences(text: str, query_tokens: set[str], tokenize, limit: int = 160) -> str:  # type: ignore[no-untyped-def]
    """The passage's sentences that share most with the question, in their order, verbatim."""
    # A sentence asking a question (the heading of an FAQ entry) is not part of an answer.
    sentences = [
        s.strip()
        for s in _SENTENCE.findall(text)
        if s.strip() and not s.strip().endswith(("？", "?"))
    ]
    if not sentences:
        return text[:limit]
    scored = []
    for i, sentence in enumerate(sentences):
        overlap = len(query_tokens & set(tokenize(sentence)))
        scored.append((overlap, -i, i))
    best = sorted(scored, reverse=True)
    chosen: list[int] = []
    size = 0
    for overlap, _, i in best:
        if chosen and (overlap == 0 or size + len(sentences[i]) > limit):
            break
        chosen.append(i)
        size += len(sentences[i])
    chosen.sort()
    # A sentence ending with ：introduces a list: keep the list items that follow it.
    if sentences[chosen[-1]].endswith(("：", ":")):
        i = chosen[-1] + 1
        while i < len(sentences) and size + len(sentences[i]) <= limit:
            chosen.append(i)
            size += len(sentences[i])
            i += 1
    return "".join(sentences[i] for i in chosen)


def plain_answer(citations: list[Citation], query_tokens: set[str], tokenize) -> str:  # type: ignore[no-untyped-def]
    """A short answer made of the best clause's key sentences, then where it comes from."""
    best = citations[0]
    body = key_sentences(best.text, query_tokens, tokenize)
    date_note = f"，{best.issued_on.isoformat()}发布" if best.issued_on else ""
    source = f"（依据{best.reference}{date_note}；{best.validity}）"
    others = [c for c in citations[1:] if c.document_id != best.document_id]
    more = ""
    if others:
        more = "另见" + "、".join(dict.fromkeys(c.reference for c in others)) + "。"
    return f"{body}{source}{more}"


def no_basis_answer(suggestions: list[str]) -> str:
    hint = ""
    if suggestions:
        hint = "可能相关的文件：" + "、".join(f"《{t}》" for t in suggestions) + "。"
    return f"{NO_BASIS}：现有政策文件中没有找到能直接回答这个问题的条款。{hint}建议换个说法，或咨询主管部门。"
