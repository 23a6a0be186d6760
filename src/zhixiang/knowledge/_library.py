"""The policy library: documents and clauses in SQL, a lexical index on disk, cited answers.

Writes (imports, reviews, confirmations) need a `Principal` holding `knowledge.manage` or
`knowledge.review` and are recorded with the actor in `knowledge_events`; asking is public.
Every write runs in one transaction, so a refused or failed import leaves the library as it was.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from zhixiang.access import Principal
from zhixiang.db import make_engine, migrate
from zhixiang.errors import Conflict, InvalidInput, NotFound
from zhixiang.knowledge import _answer as ans
from zhixiang.knowledge._draft import PolicyDraft, draft_policy, finalize
from zhixiang.knowledge._hotline import HotlineReply
from zhixiang.knowledge._index import (
    PARALLEL_ABOVE,
    LexicalIndex,
    parallel_map,
    passage_tokens,
    question_text,
    tokenize,
)
from zhixiang.knowledge._models import Candidate, Clause, Document, Event
from zhixiang.knowledge._models import Draft as DraftRow
from zhixiang.knowledge._questions import check_question, instruction_like
from zhixiang.knowledge._sources import (
    AUDIENCES,
    Batch,
    DocumentDraft,
    ImportProblem,
    complete_metadata,
    iter_laws,
    read_file,
)
from zhixiang.knowledge._structure import parse_structure
from zhixiang.rules import Policy, PolicyRejected, parse_policy, run_policy_tests

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "knowledge_alembic_version"
SEARCH_DEPTH = 40  # passages scored per question before documents are grouped
STALE_CHECK_SECONDS = 1.0
LAW_KINDS = frozenset({"法律", "行政法规", "地方性法规", "司法解释", "部门规章"})


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class ImportReport:
    """What an import did: documents added, updated, unchanged, and what it could not use."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    passages: int = 0
    linked: int = 0  # older versions newly marked as replaced

    @property
    def rejected(self) -> list[ImportProblem]:
        return [p for p in self.problems if p.fatal]

    @property
    def warnings(self) -> list[ImportProblem]:
        return [p for p in self.problems if not p.fatal]


@dataclass(frozen=True)
class Filters:
    """Which documents an answer may cite. `region` keeps documents of that place, the places above
    it and below it (a 天河区 question may cite 全国, 广东省, 广州市 and 天河区 documents)."""

    region: str | None = None
    issuer: str | None = None
    in_force_on: date | None = None
    audience: str | None = None

    def __post_init__(self) -> None:
        if self.audience is not None and self.audience not in AUDIENCES:
            raise InvalidInput(
                f"适用对象应为 {' 或 '.join(AUDIENCES)}，收到 {self.audience!r}", "audience"
            )
        for name in ("region", "issuer"):
            value = getattr(self, name)
            if value is not None and len(value) > 60:
                raise InvalidInput(f"{name} 过长（最多 60 字）", name)

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class DocumentSummary:
    id: int
    key: str
    title: str
    doc_no: str
    issuer: str
    region: str
    kind: str
    audience: tuple[str, ...]
    issued_on: date | None
    effective_on: date | None
    expires_on: date | None
    validity: str
    in_force: bool
    superseded_by: int | None
    replaces: tuple[str, ...]
    source_url: str
    passages: int


@dataclass(frozen=True)
class PassageView:
    id: int
    label: str
    kind: str
    heading: str
    text: str
    flagged: str


@dataclass(frozen=True)
class DocumentView:
    document: DocumentSummary
    note: str
    origin: str
    passages: tuple[PassageView, ...]


@dataclass(frozen=True)
class CandidateView:
    id: int
    source: str
    question: str
    answer: str
    answered_on: date | None
    clause_ids: tuple[int, ...]
    status: str
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str


def _candidate(c: Candidate) -> CandidateView:
    return CandidateView(
        c.id, c.source, c.question, c.answer, c.answered_on,
        tuple(int(x) for x in c.clause_ids.split(",") if x), c.status, c.reviewed_by,
        c.reviewed_at, c.review_note,
    )  # fmt: skip


Rewriter = Callable[[str, list[ans.Citation]], str | None]


class Library:
    """The policy library on one SQL database and one index folder."""

    def __init__(self, url: str, index_dir: Path, rewriter: Rewriter | None = None) -> None:
        self.engine = make_engine(url)
        self.index_dir = index_dir
        self.rewriter = rewriter
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._lock = threading.Lock()
        self._index: LexicalIndex | None = None
        self._checked_at = 0.0
        self._docs: dict[int, ans.DocumentInfo] = {}
        self._row_docs: np.ndarray = np.zeros(0, dtype=np.int64)
        self._masks: dict[tuple, np.ndarray] = {}

    # -- schema --------------------------------------------------------------------------------

    def migrate(self) -> str:
        """Bring the schema to the newest revision (a no-op when it is there); return it."""
        return migrate(self.engine, MIGRATIONS, VERSION_TABLE)

    def session(self) -> Session:
        return self._session()

    def _record(
        self, session: Session, actor: str, action: str, target: str, detail: str = ""
    ) -> None:
        session.add(
            Event(at=utcnow(), actor=actor, action=action, target=target[:200], detail=detail)
        )

    # -- import --------------------------------------------------------------------------------

    def import_path(
        self,
        path: Path,
        principal: Principal,
        defaults: dict[str, str] | None = None,
        progress: Callable[[int, int], None] | None = None,
        limit: int | None = None,
    ) -> ImportReport:
        """Import a file, a folder of files, or a law folder (one with INDEX.csv); `limit` takes
        only that many laws of a law folder, spread over its list."""
        principal.require("knowledge.manage")
        if not path.exists():
            raise NotFound(f"找不到 {path}", "path")
        if path.is_dir() and (path / "INDEX.csv").exists():
            return self.import_batches(self._law_batches(path, progress, limit), principal)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        batches = []
        for i, file in enumerate(files, start=1):
            batch = read_file(file)
            if defaults:
                batch.drafts = [_with_defaults(d, defaults) for d in batch.drafts]
            batches.append(batch)
            if progress:
                progress(i, len(files))
        return self.import_batches(batches, principal)

    @staticmethod
    def _law_batches(
        folder: Path, progress: Callable[[int, int], None] | None, limit: int | None = None
    ) -> Iterator[Batch]:
        for done, total, batch in iter_laws(folder, limit):
            if progress and (done % 50 == 0 or done == total):
                progress(done, total)
            yield batch

    def import_batches(self, batches: Iterable[Batch], principal: Principal) -> ImportReport:
        """Store every readable document; report the rest. One transaction, then one index rebuild."""
        principal.require("knowledge.manage")
        report = ImportReport()
        drafts: list[DocumentDraft] = []
        for batch in batches:
            report.problems.extend(batch.problems)
            drafts.extend(complete_metadata(d) for d in batch.drafts)
        with self.session() as session:
            stored = {
                (row.key, row.text_hash)
                for row in session.execute(select(Document.key, Document.text_hash))
            }
        prepared = self._prepare(drafts, report, stored)
        now = utcnow()
        with self.session() as session, session.begin():
            held = session.execute(
                select(
                    Document.id,
                    Document.key,
                    Document.doc_no,
                    Document.text_hash,
                    Document.title,
                )
            ).all()
            existing = {row.key: _Held(row.key, row.text_hash, row.title, row.id) for row in held}
            by_no = {row.doc_no: existing[row.key] for row in held if row.doc_no}
            for draft, structured, passages in prepared:
                digest = hashlib.sha256(draft.text.encode()).hexdigest()
                old = existing.get(draft.key)
                holder = by_no.get(draft.doc_no) if draft.doc_no else None
                if holder is not None and holder.key != draft.key:
                    if holder.text_hash == digest:
                        report.unchanged.append(draft.title)
                    else:
                        report.problems.append(
                            ImportProblem(
                                draft.origin,
                                f"文号 {draft.doc_no} 已属于《{holder.title}》，与《{draft.title}》内容不同：未导入"
                                "（新版本应有新文号；如为更正，请用同一 id 重新导入）",
                            )
                        )
                    continue
                if old is not None and old.text_hash == digest:
                    report.unchanged.append(draft.title)
                    continue
                values = _document_values(draft, digest, structured, now, principal.actor)
                if old is not None:
                    session.execute(delete(Clause).where(Clause.document_id == old.id))
                    session.execute(update(Document).where(Document.id == old.id).values(**values))
                    doc_id = old.id
                    report.updated.append(draft.title)
                else:
                    doc_id = session.execute(
                        insert(Document).values(key=draft.key, **values).returning(Document.id)
                    ).scalar_one()
                    report.added.append(draft.title)
                if draft.doc_no:
                    by_no[draft.doc_no] = _Held(draft.key, digest, draft.title)
                existing[draft.key] = _Held(draft.key, digest, draft.title, doc_id)
                rows = [
                    {
                        "document_id": doc_id,
                        "seq": seq,
                        "label": label[:120],
                        "kind": kind,
                        "heading": heading[:300],
                        "text": body,
                        "tokens": tokens,
                        "flagged": "疑似指令文字" if instruction_like(body) else "",
                    }
                    for seq, (label, kind, heading, body, tokens) in enumerate(passages)
                ]
                if rows:
                    session.execute(insert(Clause), rows)
                report.passages += len(rows)
                flagged = [r["label"] for r in rows if r["flagged"]]
                if flagged:
                    report.problems.append(
                        ImportProblem(
                            draft.origin,
                            f"{'、'.join(flagged[:5])} 含疑似指令文字（如“忽略以上规则”）：照常引用原文，但不交给改写模型",
                            fatal=False,
                        )
                    )
                if not structured:
                    report.problems.append(
                        ImportProblem(
                            draft.origin,
                            f"《{draft.title}》未识别出条款结构（第X条、一、等），已按段落切分",
                            fatal=False,
                        )
                    )
            report.linked = self._link_versions(session)
            changed = len(report.added) + len(report.updated)
            self._record(
                session,
                principal.actor,
                "import",
                f"{changed} documents",
                f"新增 {len(report.added)}，更新 {len(report.updated)}，未变 {len(report.unchanged)}，问题 {len(report.rejected)}",
            )
        if report.added or report.updated or report.linked:
            self.rebuild_index()
        return report

    def _prepare(
        self, drafts: list[DocumentDraft], report: ImportReport, stored: set[tuple[str, str]]
    ) -> list[tuple]:
        """Each new or changed draft with whether it is structured and its passages (label, kind,
        heading, text, tokens); a draft stored with the same text (in `stored`, as key and text
        hash) is reported unchanged without being cut again. Clause structure and words are found
        on two processes for large imports."""
        unique = []
        seen: dict[str, str] = {}
        seen_no: dict[str, str] = {}
        for draft in drafts:
            if (draft.key, hashlib.sha256(draft.text.encode()).hexdigest()) in stored:
                seen[draft.key] = draft.origin
                report.unchanged.append(draft.title)
                continue
            if draft.key in seen:
                report.problems.append(
                    ImportProblem(
                        draft.origin,
                        f"id {draft.key} 在本次导入中重复（首次见于 {seen[draft.key]}）：已跳过",
                    )
                )
                continue
            if draft.doc_no and draft.doc_no in seen_no:
                report.problems.append(
                    ImportProblem(
                        draft.origin,
                        f"文号 {draft.doc_no} 在本次导入中重复（首次见于 {seen_no[draft.doc_no]}）：已跳过",
                    )
                )
                continue
            seen[draft.key] = draft.origin
            if draft.doc_no:
                seen_no[draft.doc_no] = draft.origin
            unique.append(draft)
        heavy = sum(len(d.text) for d in unique) > PARALLEL_ABOVE
        prepared = []
        for draft, (structured, passages) in zip(
            unique, parallel_map(_cut, unique, heavy), strict=True
        ):
            if not passages:
                report.problems.append(ImportProblem(draft.origin, "没有可引用的正文：未导入"))
                continue
            prepared.append((draft, structured, passages))
        return prepared

    @staticmethod
    def _link_versions(session: Session) -> int:
        """Mark replaced documents: those whose 文号 a newer one repeals, and older laws of one title."""
        docs = session.execute(
            select(
                Document.id,
                Document.title,
                Document.doc_no,
                Document.kind,
                Document.issued_on,
                Document.replaces,
                Document.superseded_by_id,
            )
        ).all()
        successor: dict[int, int] = {}
        by_no = {d.doc_no: d for d in docs if d.doc_no}
        for d in docs:
            for number in filter(None, d.replaces.split("；")):
                older = by_no.get(number)
                if older is not None and older.id != d.id:
                    successor[older.id] = d.id
        by_title: dict[str, list] = {}
        for d in docs:
            if d.kind in LAW_KINDS and d.issued_on is not None:
                by_title.setdefault(d.title, []).append(d)
        for versions in by_title.values():
            versions.sort(key=lambda d: d.issued_on)
            for older, newer in itertools.pairwise(versions):
                if newer.issued_on > older.issued_on:
                    successor.setdefault(older.id, versions[-1].id)
        changed = 0
        for d in docs:
            wanted = successor.get(d.id)
            if wanted != d.superseded_by_id:
                session.execute(
                    update(Document).where(Document.id == d.id).values(superseded_by_id=wanted)
                )
                changed += 1 if wanted is not None else 0
        return changed

    # -- index ---------------------------------------------------------------------------------

    def generation(self) -> str:
        with self.session() as session:
            count, top = session.execute(select(func.count(Clause.id), func.max(Clause.id))).one()
            last = session.execute(select(func.max(Event.id))).scalar()
        return f"{count}:{top}:{last}"

    def rebuild_index(self) -> LexicalIndex:
        """Rebuild the on-disk index from the stored passages' words."""
        generation = self.generation()
        with self.session() as session:
            rows = session.execute(
                select(Clause.id, Clause.tokens)
                .order_by(Clause.id)
                .execution_options(yield_per=5000)
            )
            index = LexicalIndex.build(((r.id, r.tokens) for r in rows), generation)
        index.save(self.index_dir)
        with self._lock:
            self._install(index)
        return index

    def _install(self, index: LexicalIndex) -> None:
        with self.session() as session:
            docs = session.execute(select(Document)).scalars().all()
            pairs = session.execute(select(Clause.id, Clause.document_id)).all()
        self._docs = {d.id: _info(d) for d in docs}
        of_clause = dict(pairs)
        self._row_docs = np.asarray(
            [of_clause.get(int(c), -1) for c in index.clause_ids], dtype=np.int64
        )
        self._masks = {}
        self._index = index
        self._checked_at = time.monotonic()

    def index(self) -> LexicalIndex:
        """The current index: loaded from disk, rebuilt when the library changed since it was saved."""
        with self._lock:
            fresh = (
                self._index is not None
                and time.monotonic() - self._checked_at < STALE_CHECK_SECONDS
            )
            if fresh:
                return self._index  # type: ignore[return-value]
        generation = self.generation()
        with self._lock:
            if self._index is not None and self._index.generation == generation:
                self._checked_at = time.monotonic()
                return self._index
            loaded = LexicalIndex.load(self.index_dir)
            if loaded is not None and loaded.generation == generation:
                self._install(loaded)
                return loaded
        return self.rebuild_index()

    def _mask(self, filters: Filters, as_of: date) -> np.ndarray | None:
        if filters == Filters():
            return None
        key = (filters, as_of)
        if key not in self._masks:
            places = _places(filters, {d.region for d in self._docs.values()})
            allowed = [
                d.id for d in self._docs.values() if _admits(filters, d, self._successor(d), places)
            ]
            self._masks[key] = np.isin(self._row_docs, np.asarray(allowed, dtype=np.int64)).astype(
                np.float32
            )
        return self._masks[key]

    def _successor(self, doc: ans.DocumentInfo) -> ans.DocumentInfo | None:
        return self._docs.get(doc.superseded_by) if doc.superseded_by else None

    # -- asking --------------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        filters: Filters | None = None,
        as_of: date | None = None,
        threshold: float = ans.NO_BASIS_THRESHOLD,
        rewrite: bool = True,
    ) -> ans.Answer:
        """The best clauses for `question`, quoted with document, 文号 and clause, or 未找到依据."""
        filters = filters or Filters()
        as_of = as_of or filters.in_force_on or date.today()
        checked = check_question(question)
        if not checked.chinese or not checked.text:
            return ans.Answer(
                checked.original,
                False,
                checked.notes[-1] if checked.notes else ans.NO_BASIS,
                0.0,
                notes=checked.notes,
                as_of=as_of,
                filters=filters.as_dict(),
            )
        scored = self.search(checked.text, filters, as_of)
        index = self.index()
        notes = list(checked.notes)
        if not scored:
            return ans.Answer(
                checked.original,
                False,
                ans.no_basis_answer([]),
                0.0,
                notes=tuple(notes),
                as_of=as_of,
                filters=filters.as_dict(),
            )
        best_confidence = scored[0][1]
        citations = [c for c, _ in scored]
        query = set(index.known(tokenize(question_text(checked.text))))
        if best_confidence < threshold:
            titles = list(dict.fromkeys(c.title for c in citations))[:3]
            return ans.Answer(
                checked.original,
                False,
                ans.no_basis_answer(titles),
                round(best_confidence, 3),
                suggestions=tuple(titles),
                notes=tuple(notes),
                as_of=as_of,
                filters=filters.as_dict(),
            )
        cited = [c for c, conf in scored if conf >= max(threshold, best_confidence * 0.8)][
            : ans.MAX_CITATIONS
        ]
        if not cited[0].in_force:
            notes.append(f"最相关的依据{cited[0].validity}，仅供参考，请以现行文件为准")
        text_answer = ans.plain_answer(cited, query, tokenize)
        rewritten = False
        if rewrite and self.rewriter is not None:
            usable = [c for c in cited if not instruction_like(c.text)]
            if usable:
                better = self.rewriter(checked.text, usable)
                if better:
                    text_answer, rewritten = better, True
        return ans.Answer(
            checked.original,
            True,
            text_answer,
            round(best_confidence, 3),
            citations=tuple(cited),
            notes=tuple(notes),
            replies=tuple(self._replies(checked.text, {c.clause_id for c in cited})),
            rewritten=rewritten,
            as_of=as_of,
            filters=filters.as_dict(),
        )

    def search(
        self,
        question: str,
        filters: Filters | None = None,
        as_of: date | None = None,
        depth: int = SEARCH_DEPTH,
    ) -> list[tuple[ans.Citation, float]]:
        """Passages for `question`, best first, each with its confidence (share of the question found)."""
        filters = filters or Filters()
        as_of = as_of or filters.in_force_on or date.today()
        index = self.index()
        query_tokens = tokenize(question_text(question))
        weights = index.weights(query_tokens)
        hits = index.search(list(weights), depth, self._mask(filters, as_of))
        if not hits:
            return []
        with self.session() as session:
            rows = {
                r.id: r
                for r in session.execute(
                    select(
                        Clause.id, Clause.document_id, Clause.label, Clause.text, Clause.tokens
                    ).where(Clause.id.in_([h.clause_id for h in hits]))
                )
            }
        top_score = hits[0].score
        places = self._places_named(question)
        scored = []
        for hit in hits:
            row = rows.get(hit.clause_id)
            doc = self._docs.get(row.document_id) if row else None
            if row is None or doc is None:
                continue
            valid = ans.validity(doc, as_of, self._successor(doc))
            confidence = (
                ans.coverage(weights, set(row.tokens.split())) * (hit.score / top_score) ** 0.5
            )
            if places and not _applies_to(doc.region, places):
                confidence *= (
                    PLACE_MISMATCH  # a question about 广州 is not answered by 上海's rules
                )
            rank_score = confidence * (1.0 if valid.in_force else 0.8)
            scored.append(
                (
                    rank_score,
                    confidence,
                    ans.Citation(
                        doc.id,
                        row.id,
                        doc.title,
                        doc.doc_no,
                        doc.issuer,
                        row.label,
                        row.text,
                        valid.in_force,
                        valid.label,
                        doc.issued_on,
                        doc.source_url,
                        round(hit.score, 3),
                    ),
                )
            )
        scored.sort(key=lambda item: -item[0])
        return [(citation, confidence) for _, confidence, citation in scored]

    def _places_named(self, question: str) -> set[str]:
        """Places the question names (广州, 天河区, 深圳市 …), as short names."""
        known = self._place_names()
        named = {m.group(1) for m in _PLACE.finditer(question)}
        named |= {name for name in known if name in question}
        return {n for n in named if len(n) >= 2}

    def _place_names(self) -> set[str]:
        names: set[str] = set()
        for region in {d.region for d in self._docs.values()}:
            for m in _REGION_PART.finditer(region):
                names.add(m.group(1))
        return names - {"全国"}

    def _replies(self, question: str, clause_ids: set[int]) -> list[ans.Reply]:
        """Approved hotline replies linked to the cited clauses."""
        if not clause_ids:
            return []
        with self.session() as session:
            approved = (
                session.execute(select(Candidate).where(Candidate.status == "approved"))
                .scalars()
                .all()
            )
        found = []
        for c in approved:
            linked = {int(x) for x in c.clause_ids.split(",") if x}
            if linked & clause_ids:
                found.append(
                    ans.Reply(c.id, c.question, c.answer, c.answered_on, tuple(sorted(linked)))
                )
        return found[:3]

    # -- knowledge from the hotline -----------------------------------------------------------

    def harvest(
        self,
        replies: Iterable[HotlineReply],
        principal: Principal,
        limit: int | None = None,
        link_threshold: float = ans.NO_BASIS_THRESHOLD,
    ) -> tuple[int, int]:
        """Store good replies as pending candidates, each linked to the clauses it rests on.

        Returns (added, already there). Linking searches the question and the reply together.
        """
        principal.require("knowledge.review")
        now = utcnow()
        added = skipped = 0
        with self.session() as session:
            known = set(session.execute(select(Candidate.source)).scalars())
        rows = []
        for reply in replies:
            if reply.source in known:
                skipped += 1
                continue
            known.add(reply.source)
            found = self.search(f"{reply.question}\n{reply.answer[:300]}", depth=10)
            linked = [c.clause_id for c, conf in found if conf >= link_threshold][:3]
            rows.append(
                {
                    "source": reply.source, "question": reply.question, "answer": reply.answer,
                    "answered_on": reply.answered_on, "quality": reply.quality,
                    "clause_ids": ",".join(map(str, linked)), "status": "pending",
                    "created_at": now, "created_by": principal.actor, "review_note": "",
                }
            )  # fmt: skip
            added += 1
            if limit is not None and added >= limit:
                break
        with self.session() as session, session.begin():
            if rows:
                session.execute(insert(Candidate), rows)
            self._record(
                session, principal.actor, "harvest", f"{added} candidates", f"已存在 {skipped}"
            )
        return added, skipped

    def candidates(self, status: str | None = "pending", limit: int = 50) -> list[CandidateView]:
        with self.session() as session:
            stmt = select(Candidate).order_by(Candidate.id).limit(limit)
            if status:
                stmt = stmt.where(Candidate.status == status)
            return [_candidate(c) for c in session.execute(stmt).scalars()]

    def review(
        self, candidate_id: int, approve: bool, principal: Principal, note: str = ""
    ) -> CandidateView:
        """Approve (serve from now on) or reject a pending candidate; the reviewer is recorded."""
        principal.require("knowledge.review")
        with self.session() as session, session.begin():
            c = session.get(Candidate, candidate_id)
            if c is None:
                raise NotFound(f"没有编号为 {candidate_id} 的候选知识", "candidate")
            if c.status != "pending":
                raise Conflict(
                    f"候选知识 {candidate_id} 已于 {c.reviewed_at:%Y-%m-%d %H:%M} 由 {c.reviewed_by} 审核（{c.status}）",
                    "candidate",
                )
            c.status = "approved" if approve else "rejected"
            c.reviewed_at, c.reviewed_by, c.review_note = utcnow(), principal.actor, note[:1000]
            self._record(session, principal.actor, c.status, f"candidate {c.id}", note[:500])
            return _candidate(c)

    # -- 政策拆解 ---------------------------------------------------------------------------------

    def draft(self, clause_id: int, principal: Principal) -> tuple[int, PolicyDraft]:
        """Draft a policy file from a clause; stored as a draft until an officer confirms it."""
        principal.require("knowledge.manage")
        doc, passage = self.clause(clause_id)
        drafted = draft_policy(
            passage.text,
            policy_id=f"draft-{doc.id}-{passage.id}",
            title=f"{doc.title} {passage.label}",
            department=doc.issuer or "（请填写发布部门）",
            document=doc.title + (f"（{doc.doc_no}）" if doc.doc_no else ""),
            clause=passage.label,
            valid_from=doc.effective_on,
            valid_to=doc.expires_on,
        )
        with self.session() as session, session.begin():
            draft_id = session.execute(
                insert(DraftRow).values(
                    clause_id=clause_id, policy_id=f"draft-{doc.id}-{passage.id}", yaml=drafted.yaml,
                    status="draft", created_at=utcnow(), created_by=principal.actor,
                ).returning(DraftRow.id)
            ).scalar_one()  # fmt: skip
            self._record(
                session, principal.actor, "draft", f"clause {clause_id}", f"draft {draft_id}"
            )
        return draft_id, drafted

    def confirm(self, draft_id: int, edited_yaml: str, principal: Principal) -> Policy:
        """Check the officer's edited draft with the policy checker; store it as confirmed if it passes."""
        principal.require("knowledge.manage")
        with self.session() as session:
            row = session.get(DraftRow, draft_id)
            if row is None:
                raise NotFound(f"没有编号为 {draft_id} 的政策草稿", "draft")
            if row.status == "confirmed":
                raise Conflict(f"草稿 {draft_id} 已由 {row.confirmed_by} 确认", "draft")
        where = Path(f"draft-{draft_id}.yaml")
        try:
            parse_policy(edited_yaml, where)
        except PolicyRejected as rejected:
            raise InvalidInput(
                "政策检查未通过：\n" + "\n".join(map(str, rejected.problems)), "yaml"
            ) from None
        final, blocking = finalize(edited_yaml)
        if blocking:
            raise InvalidInput("；".join(blocking), "yaml")
        policy = parse_policy(final, where)
        failures = run_policy_tests(policy)
        if failures:
            raise InvalidInput("政策用例未通过：\n" + "\n".join(map(str, failures)), "yaml")
        with self.session() as session, session.begin():
            session.execute(
                update(DraftRow)
                .where(DraftRow.id == draft_id)
                .values(
                    yaml=final,
                    status="confirmed",
                    confirmed_at=utcnow(),
                    confirmed_by=principal.actor,
                )
            )
            self._record(session, principal.actor, "confirm", f"draft {draft_id}", policy.id)
        return policy

    def draft_text(self, draft_id: int) -> tuple[str, str]:
        """(status, YAML) of a stored draft."""
        with self.session() as session:
            row = session.get(DraftRow, draft_id)
            if row is None:
                raise NotFound(f"没有编号为 {draft_id} 的政策草稿", "draft")
            return row.status, row.yaml

    # -- reading -------------------------------------------------------------------------------

    def documents(
        self,
        kind: str | None = None,
        query: str | None = None,
        limit: int = 100,
        offset: int = 0,
        as_of: date | None = None,
    ) -> list[DocumentSummary]:
        as_of = as_of or date.today()
        with self.session() as session:
            stmt = select(Document).order_by(Document.id)
            if kind:
                stmt = stmt.where(Document.kind == kind)
            if query:
                like = f"%{query}%"
                stmt = stmt.where(
                    Document.title.like(like)
                    | Document.doc_no.like(like)
                    | Document.issuer.like(like)
                )
            docs = session.execute(stmt.limit(limit).offset(offset)).scalars().all()
            counts = dict(
                session.execute(
                    select(Clause.document_id, func.count())
                    .where(Clause.document_id.in_([d.id for d in docs]))
                    .group_by(Clause.document_id)
                ).all()
            )
            successors = {
                d.id: d
                for d in session.execute(
                    select(Document).where(
                        Document.id.in_([d.superseded_by_id for d in docs if d.superseded_by_id])
                    )
                ).scalars()
            }
        return [
            _summary(
                d,
                counts.get(d.id, 0),
                as_of,
                None if d.superseded_by_id is None else successors.get(d.superseded_by_id),
            )
            for d in docs
        ]

    def count(self) -> tuple[int, int]:
        with self.session() as session:
            return (
                session.execute(select(func.count(Document.id))).scalar_one(),
                session.execute(select(func.count(Clause.id))).scalar_one(),
            )

    def document(self, ref: str | int, as_of: date | None = None) -> DocumentView:
        """One document by id, source key or 文号, with its passages."""
        as_of = as_of or date.today()
        with self.session() as session:
            doc = None
            if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
                doc = session.get(Document, int(ref))
            if doc is None:
                doc = (
                    session.execute(
                        select(Document).where(
                            (Document.key == str(ref)) | (Document.doc_no == str(ref))
                        )
                    )
                    .scalars()
                    .first()
                )
            if doc is None:
                raise NotFound(f"文件库中没有 {ref}（可用编号、来源 id 或文号查找）", "document")
            clauses = (
                session.execute(
                    select(Clause).where(Clause.document_id == doc.id).order_by(Clause.seq)
                )
                .scalars()
                .all()
            )
            successor = (
                session.get(Document, doc.superseded_by_id) if doc.superseded_by_id else None
            )
        return DocumentView(
            _summary(doc, len(clauses), as_of, successor),
            doc.note,
            doc.origin,
            tuple(
                PassageView(c.id, c.label, c.kind, c.heading, c.text, c.flagged) for c in clauses
            ),
        )

    def clause(self, clause_id: int) -> tuple[DocumentSummary, PassageView]:
        with self.session() as session:
            c = session.get(Clause, clause_id)
            if c is None:
                raise NotFound(f"没有编号为 {clause_id} 的条款", "clause")
            doc = session.get(Document, c.document_id)
            assert doc is not None
        return _summary(doc, 0, date.today(), None), PassageView(
            c.id, c.label, c.kind, c.heading, c.text, c.flagged
        )

    def find_clause(self, document: str, label: str) -> int:
        """The id of clause `label` (第二十二条, 二、（一）) of a document given by id, key or 文号."""
        view = self.document(document)
        for p in view.passages:
            if p.label == label:
                return p.id
        labels = "、".join(p.label for p in view.passages[:20])
        raise NotFound(
            f"《{view.document.title}》中没有条款 {label}（条款有: {labels}…）", "clause"
        )

    def set_repealed(self, ref: str, repealed: bool, principal: Principal) -> DocumentSummary:
        """Mark a document repealed (or not) by hand, e.g. when an official notice says so."""
        principal.require("knowledge.manage")
        doc_id = self.document(ref).document.id
        with self.session() as session, session.begin():
            session.execute(update(Document).where(Document.id == doc_id).values(repealed=repealed))
            self._record(
                session, principal.actor, "repeal" if repealed else "unrepeal", str(doc_id)
            )
        self._invalidate()
        return self.document(doc_id).document

    def _invalidate(self) -> None:
        with self._lock:
            self._index = None

    def events(self, limit: int = 50) -> list[Event]:
        with self.session() as session:
            return list(
                session.execute(select(Event).order_by(Event.id.desc()).limit(limit)).scalars()
            )

    def raise_if_empty(self) -> None:
        if self.count()[1] == 0:
            raise Conflict(
                "政策文件库为空：请先导入文件（zhixiang knowledge import …，或 make demo）",
                "library",
            )


def _cut(drafts: list[DocumentDraft]) -> list[tuple[bool, list[tuple[str, str, str, str, str]]]]:
    """Clause structure and index tokens of each draft (run in a worker process for big imports)."""
    found = []
    for draft in drafts:
        structure = parse_structure(draft.text)
        seen: dict[str, list[str]] = {}
        passages = [
            (
                p.label,
                p.kind,
                p.context,
                p.text,
                passage_tokens(draft.title, p.context, p.text, seen),
            )
            for p in structure.passages
        ]
        found.append((structure.structured, passages))
    return found


@dataclass(frozen=True)
class _Held:
    key: str
    text_hash: str
    title: str
    id: int = 0


def _with_defaults(draft: DocumentDraft, defaults: dict[str, str]) -> DocumentDraft:
    changes: dict[str, object] = {}
    for name, value in defaults.items():
        if value and not getattr(draft, name):
            changes[name] = tuple(v for v in value.split(",") if v) if name == "audience" else value
    return replace(draft, **changes)  # type: ignore[arg-type]


def _document_values(
    draft: DocumentDraft, digest: str, structured: bool, now: datetime, actor: str
) -> dict:
    return {
        "title": draft.title[:300],
        "doc_no": draft.doc_no or None,
        "issuer": draft.issuer[:200],
        "region": draft.region[:60] or "全国",
        "kind": draft.kind[:30],
        "audience": ",".join(draft.audience),
        "issued_on": draft.issued_on,
        "effective_on": draft.effective_on,
        "expires_on": draft.expires_on,
        "repealed": draft.repealed,
        "source_url": draft.source_url[:500],
        "note": draft.note,
        "replaces": "；".join(draft.replaces),
        "origin": draft.origin[:500],
        "text_hash": digest,
        "chars": len(draft.text),
        "structured": structured,
        "imported_at": now,
        "imported_by": actor,
    }


def _info(d: Document) -> ans.DocumentInfo:
    return ans.DocumentInfo(
        d.id,
        d.title,
        d.doc_no or "",
        d.issuer,
        d.region,
        d.kind,
        tuple(filter(None, d.audience.split(","))),
        d.issued_on,
        d.effective_on,
        d.expires_on,
        d.repealed,
        d.superseded_by_id,
        d.source_url,
    )


def _summary(
    d: Document, passages: int, as_of: date, successor: Document | None
) -> DocumentSummary:
    info = _info(d)
    valid = ans.validity(info, as_of, _info(successor) if successor else None)
    return DocumentSummary(
        d.id,
        d.key,
        d.title,
        d.doc_no or "",
        d.issuer,
        d.region,
        d.kind,
        info.audience,
        d.issued_on,
        d.effective_on,
        d.expires_on,
        valid.label,
        valid.in_force,
        d.superseded_by_id,
        tuple(filter(None, d.replaces.split("；"))),
        d.source_url,
        passages,
    )


PLACE_MISMATCH = 0.6
_PLACE = re.compile(r"([\u4e00-\u9fa5]{2,3}?)(?:省|市|区|县)(?![长委政府级属内外])")
_REGION_PART = re.compile(r"([\u4e00-\u9fa5]{2,}?)(?:省|市|区|县|自治区)")


def _applies_to(region: str, places: set[str]) -> bool:
    """Whether a document of `region` speaks for a question about `places`: national documents, or
    documents of a named place or of a place above it (广东省 for 广州)."""
    if region == "全国":
        return True
    parts = {m.group(1) for m in _REGION_PART.finditer(region)}
    if parts & places:
        return True
    return any(p in _PARENTS and _PARENTS[p] in parts for p in places)


# Places below the provinces that the library holds documents for, named in questions without them.
_PARENTS = {
    "天河": "广州",
    "广州": "广东",
    "深圳": "广东",
    "佛山": "广东",
    "东莞": "广东",
    "珠海": "广东",
}


def _admits(
    filters: Filters,
    doc: ans.DocumentInfo,
    successor: ans.DocumentInfo | None,
    places: tuple[set[str], set[str]],
) -> bool:
    if filters.issuer and filters.issuer not in doc.issuer:
        return False
    if filters.audience and filters.audience not in doc.audience:
        return False
    if filters.in_force_on and not ans.validity(doc, filters.in_force_on, successor).in_force:
        return False
    if filters.region:
        # at the asked place or below it (广州 → 广东省广州市天河区), or above it (全国, 广东省);
        # a place the library holds no document of admits only the places above it
        exact, above = places
        return (
            doc.region == "全国"
            or any(doc.region.startswith(p) or p.startswith(doc.region) for p in exact)
            or any(p.startswith(doc.region) for p in above)
        )
    return True


def _places(filters: Filters, regions: Iterable[str]) -> tuple[set[str], set[str]]:
    """The region paths of the library that name the asked place (天河 → 广东省广州市天河区), and
    when there are none, those of the nearest place above it that the library knows."""
    if not filters.region:
        return set(), set()
    wanted = filters.region
    for suffix in ("省", "市", "区", "县"):
        if len(wanted) > 2:
            wanted = wanted.removesuffix(suffix)
    regions = set(regions)
    found = _paths_naming(wanted, regions)
    if found:
        return found, set()
    while wanted in _PARENTS:
        wanted = _PARENTS[wanted]
        above = _paths_naming(wanted, regions)
        if above:
            return set(), above
    return set(), set()


def _paths_naming(place: str, regions: set[str]) -> set[str]:
    found = set()
    for region in regions:
        at = region.find(place)
        if at >= 0:
            end = at + len(place)
            while end < len(region) and region[end] not in "省市区县":
                end += 1
            found.add(region[: end + 1])
    return found
