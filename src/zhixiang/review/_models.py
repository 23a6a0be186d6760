"""Tables of 智能快审 (applications and their history), in their own metadata and with their own Alembic
version table, so they can share the operational database without touching its schema history."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

VERSION_TABLE = "review_alembic_version"


class Base(DeclarativeBase):
    pass


class Application(Base):
    """One application for one policy by one entity, with the decision as it stands now."""

    __tablename__ = "review_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(120), index=True)
    entity_id: Mapped[str] = mapped_column(String(64), index=True)
    applicant: Mapped[str] = mapped_column(String(200))  # actor: user:…, key:…, operator:…
    as_of: Mapped[date] = mapped_column(Date)
    declared: Mapped[dict[str, Any]] = mapped_column(JSON)  # what only the applicant can know
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), index=True)  # approved | refused | pending
    decided_by: Mapped[str | None] = mapped_column(String(200))  # "auto" or the reviewer
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    checks: Mapped[list[Any]] = mapped_column(JSON)  # each condition: result, facts and sources
    pending: Mapped[list[Any]] = mapped_column(JSON)  # what a reviewer must look at
    grants: Mapped[list[Any]] = mapped_column(JSON)  # data-hub grants the facts were read under
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(Text)  # a reviewer's reason


class Event(Base):
    """Append-only history of an application: submitted, decided automatically, overridden."""

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("review_applications.id"), index=True
    )
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    before: Mapped[str | None] = mapped_column(String(16))
    after: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime)
