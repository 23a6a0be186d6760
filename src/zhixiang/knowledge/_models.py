"""Tables of the policy library: documents, their clause tree, hotline candidates, drafts, history.

Every table name starts with `knowledge_` and the Alembic version table is
`knowledge_alembic_version`, so the library can share one PostgreSQL database with other capabilities.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Document(Base):
    __tablename__ = "knowledge_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)  # the source's own id or path
    title: Mapped[str] = mapped_column(String(300))
    doc_no: Mapped[str | None] = mapped_column(String(120), index=True)
    issuer: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str] = mapped_column(String(60), default="全国")
    kind: Mapped[str] = mapped_column(String(30), default="")
    audience: Mapped[str] = mapped_column(String(20), default="居民,企业")
    issued_on: Mapped[date | None] = mapped_column(Date)
    effective_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    repealed: Mapped[bool] = mapped_column(Boolean, default=False)
    source_url: Mapped[str] = mapped_column(String(500), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    replaces: Mapped[str] = mapped_column(
        Text, default=""
    )  # 文号 it names as repealed, "；"-joined
    superseded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("knowledge_documents.id", ondelete="SET NULL"), index=True
    )
    origin: Mapped[str] = mapped_column(String(500), default="")
    text_hash: Mapped[str] = mapped_column(String(64))
    chars: Mapped[int] = mapped_column(Integer, default=0)
    structured: Mapped[bool] = mapped_column(Boolean, default=True)
    imported_at: Mapped[datetime] = mapped_column(DateTime)
    imported_by: Mapped[str] = mapped_column(String(100))


class Clause(Base):
    """A node of a document's clause tree; `passage` rows are the units searched and quoted."""

    __tablename__ = "knowledge_clauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_documents.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(120))  # 第二十二条, 二、（一）
    kind: Mapped[str] = mapped_column(String(20))
    heading: Mapped[str] = mapped_column(
        String(300), default=""
    )  # chapter and section titles above
    text: Mapped[str] = mapped_column(Text)
    tokens: Mapped[str] = mapped_column(Text, default="")  # the index's words, space-joined
    flagged: Mapped[str] = mapped_column(String(200), default="")  # e.g. instruction-like text


Index("ix_knowledge_clauses_doc_seq", Clause.document_id, Clause.seq, unique=True)


class Candidate(Base):
    """A good official reply proposed as knowledge; served only after a person approves it."""

    __tablename__ = "knowledge_candidates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(120), unique=True)  # e.g. taidi2020:留言编号
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    answered_on: Mapped[date | None] = mapped_column(Date)
    quality: Mapped[float] = mapped_column(default=0.0)
    clause_ids: Mapped[str] = mapped_column(String(200), default="")  # linked clauses, ","-joined
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    review_note: Mapped[str] = mapped_column(Text, default="")


class Draft(Base):
    """A policy file drafted from a clause (政策拆解): draft until an officer confirms it."""

    __tablename__ = "knowledge_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clause_id: Mapped[int] = mapped_column(ForeignKey("knowledge_clauses.id", ondelete="CASCADE"))
    policy_id: Mapped[str] = mapped_column(String(100))
    yaml: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    confirmed_by: Mapped[str | None] = mapped_column(String(100))


class Event(Base):
    """Who changed the library, when, and how: imports, reviews, confirmations."""

    __tablename__ = "knowledge_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")
