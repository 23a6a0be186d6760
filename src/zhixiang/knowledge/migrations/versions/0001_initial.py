"""policy library: documents, clauses, candidates, drafts, events

Revision ID: 0001
Revises:
Create Date: 2026-12-01 08:48:09.908782
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "knowledge_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("quality", sa.Double(), nullable=False),
        sa.Column("clause_ids", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=100), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source"),
    )
    with op.batch_alter_table("knowledge_candidates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_knowledge_candidates_status"), ["status"], unique=False
        )

    op.create_table(
        "knowledge_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("doc_no", sa.String(length=120), nullable=True),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("region", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("audience", sa.String(length=20), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("effective_on", sa.Date(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("repealed", sa.Boolean(), nullable=False),
        sa.Column("source_url", sa.String(length=500), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("replaces", sa.Text(), nullable=False),
        sa.Column("superseded_by_id", sa.Integer(), nullable=True),
        sa.Column("origin", sa.String(length=500), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("chars", sa.Integer(), nullable=False),
        sa.Column("structured", sa.Boolean(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("imported_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["superseded_by_id"], ["knowledge_documents.id"], ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("knowledge_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_knowledge_documents_doc_no"), ["doc_no"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_knowledge_documents_superseded_by_id"),
            ["superseded_by_id"],
            unique=False,
        )

    op.create_table(
        "knowledge_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("knowledge_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_knowledge_events_at"), ["at"], unique=False)

    op.create_table(
        "knowledge_clauses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("heading", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Text(), nullable=False),
        sa.Column("flagged", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["knowledge_documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("knowledge_clauses", schema=None) as batch_op:
        batch_op.create_index("ix_knowledge_clauses_doc_seq", ["document_id", "seq"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_knowledge_clauses_document_id"), ["document_id"], unique=False
        )

    op.create_table(
        "knowledge_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clause_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.String(length=100), nullable=False),
        sa.Column("yaml", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("confirmed_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["clause_id"], ["knowledge_clauses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("knowledge_drafts")
    with op.batch_alter_table("knowledge_clauses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_clauses_document_id"))
        batch_op.drop_index("ix_knowledge_clauses_doc_seq")

    op.drop_table("knowledge_clauses")
    with op.batch_alter_table("knowledge_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_events_at"))

    op.drop_table("knowledge_events")
    with op.batch_alter_table("knowledge_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_documents_superseded_by_id"))
        batch_op.drop_index(batch_op.f("ix_knowledge_documents_doc_no"))

    op.drop_table("knowledge_documents")
    with op.batch_alter_table("knowledge_candidates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_candidates_status"))

    op.drop_table("knowledge_candidates")
