"""Tables of the grant ledger (免申即享), in their own metadata and with their own Alembic version
table, so they can share an operational database with other capabilities.

Money is kept in fen (分) as integers: exact, and fast to sum over a million lines. The ledger is
append-only for money: a line's amount is never edited; a correction or a clawback is a new
`reversal` line pointing at the award it reverses. Only a line's status moves forward.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

VERSION_TABLE = "grants_alembic_version"
metadata = MetaData()
# SQLite makes only INTEGER PRIMARY KEY an auto-increment rowid; PostgreSQL gets a bigint identity.
Id = BigInteger().with_variant(Integer(), "sqlite")

batches = Table(
    "gr_batches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("policy_id", String(128), nullable=False),
    Column("period", String(8), nullable=False),
    Column("kind", String(16), nullable=False),  # grant | application
    Column("delivery", String(8), nullable=False),
    Column("policy_title", String(300), nullable=False),
    Column("policy", JSON, nullable=False),  # source, conditions: the reasons every line shares
    Column("run_id", String(64)),
    Column("as_of", Date),
    Column("eligible", Integer, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("total_fen", BigInteger, nullable=False),
    Column("held", JSON, nullable=False),  # reason → how many eligible entities were held out
    Column("status", String(16), nullable=False),  # proposed | approved
    Column("proposed_by", String(200), nullable=False),
    Column("proposed_at", DateTime, nullable=False),
    Column("approved_by", String(200)),
    Column("approved_at", DateTime),
    Column("notice_days", Integer, nullable=False),
    Column("notice_until", Date),
    Column("notice", JSON),  # the notice every line's entity gets: title, text around the amount
    Index("ix_gr_batches_policy", "policy_id", "period"),
)

lines = Table(
    "gr_lines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch_id", Id, ForeignKey("gr_batches.id"), nullable=False),
    Column("policy_id", String(128), nullable=False),
    Column("period", String(8), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column("kind", String(8), nullable=False),  # award | reversal | void (its batch was withdrawn)
    Column("amount_fen", BigInteger, nullable=False),
    Column("reverses", Id),  # reversal: the award line it reverses
    Column("basis", String(80)),  # reversal: run:<id> or objection:<id> (one per award and basis)
    Column("status", String(8), nullable=False),  # 待确认 已确认 已拨付 退回 撤销
    Column("reason", Text),
    Column("export_id", Id),
    Index("ix_gr_lines_batch", "batch_id"),
    # Never pays twice: one award per (policy, period, entity), ever; a revoked award keeps its
    # key, and any later change to what is due is a reversal line against it.
    Index(
        "uq_gr_payable",
        "policy_id",
        "period",
        "entity_id",
        unique=True,
        sqlite_where=text("kind = 'award'"),
        postgresql_where=text("kind = 'award'"),
    ),
    Index(
        "uq_gr_reversal",
        "reverses",
        "basis",
        unique=True,
        sqlite_where=text("kind = 'reversal'"),
        postgresql_where=text("kind = 'reversal'"),
    ),
)

objections = Table(
    "gr_objections",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("line_id", Id, ForeignKey("gr_lines.id"), nullable=False, index=True),
    Column("entity_id", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("filed_by", String(200), nullable=False),
    Column("filed_at", DateTime, nullable=False),
    Column("status", String(8), nullable=False),  # 待处理 成立 不成立
    Column("decided_by", String(200)),
    Column("decided_at", DateTime),
    Column("decision", Text),
    Column("corrected_fen", BigInteger),
)

accounts = Table(
    "gr_accounts",
    metadata,
    Column("entity_id", String(64), primary_key=True),
    Column("payee", String(300), nullable=False),
    Column("bank", String(300), nullable=False),
    Column("account", String(64), nullable=False),
    Column("source", String(64), nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

exports = Table(
    "gr_exports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch_id", Id, ForeignKey("gr_batches.id"), nullable=False, index=True),
    Column("exported_by", String(200), nullable=False),
    Column("exported_at", DateTime, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("total_fen", BigInteger, nullable=False),
    Column("held", JSON, nullable=False),
    Column("paid_by", String(200)),
    Column("paid_at", DateTime),
)

notices = Table(
    "gr_notices",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("entity_id", String(64), nullable=False),
    Column("batch_id", Id, nullable=False),
    Column("line_id", Id, nullable=False),
    Column("kind", String(8), nullable=False),  # award | reversal: which text of the batch's notice
    Column("amount_fen", BigInteger, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("read_at", DateTime),  # 站内消息: when the entity opened it in the portal
    Column("gateway", String(8), nullable=False),  # 短信/邮件网关: 待发送 → 已发送
    Column("sent_at", DateTime),
    Index("ix_gr_notices_entity", "entity_id"),
    Index("ix_gr_notices_gateway", "gateway"),
)

events = Table(
    "gr_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("batch_id", Id),
    Column("line_id", Id),
    Column("action", String(32), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_gr_events_batch", "batch_id"),
)
