"""What the ledger hands out: plain values, amounts as exact yuan, statuses in Chinese."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal

#: A line's status, in the order a payable line moves through them (退回: the bank sent it back).
STATUSES = ("待确认", "已确认", "已拨付", "退回", "撤销")
PENDING, CONFIRMED, PAID, RETURNED, REVOKED = STATUSES
#: The kind of a line whose batch was withdrawn before approval: no longer an award, so its key is free.
VOID = "void"
#: The disbursement file's columns, in the order a bank's batch-payment template lists them.
BANK_COLUMNS = ("收款单位", "统一社会信用代码", "开户行", "账号", "金额", "用途")


def to_fen(amount: Decimal) -> int:
    """Yuan to whole fen, rounding down: the ledger never pays a fraction of a fen more."""
    return int((amount * 100).to_integral_value(ROUND_DOWN))


_AMOUNT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(元|万元|亿元)?\s*$")
_UNITS = {None: 1, "元": 1, "万元": 10_000, "亿元": 100_000_000}


def parse_amount(text: str) -> Decimal:
    """An amount typed by an officer: 123456.78、10万元、1.5亿元."""
    from zhixiang.errors import InvalidInput

    found = _AMOUNT.match(text or "")
    if found is None:
        raise InvalidInput(
            f"金额应为数字加可选单位（元、万元、亿元），如 10万元，实为 {text!r}", "amount"
        )
    return Decimal(found.group(1)) * _UNITS[found.group(2)]


def to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class BatchView:
    """A grant batch: what was proposed, by whom, who approved it, and where its lines stand."""

    id: int
    policy_id: str
    policy_title: str
    period: str
    kind: str
    delivery: str
    status: str
    run_id: str | None
    as_of: date | None
    eligible: int
    lines: int
    total: Decimal
    held: dict[str, int]
    proposed_by: str
    proposed_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    notice_days: int
    notice_until: date | None
    by_status: dict[str, int] = field(default_factory=dict)
    objections: int = 0

    def to_dict(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["total"] = str(self.total)
        for key in ("as_of", "proposed_at", "approved_at", "notice_until"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


@dataclass(frozen=True)
class LineView:
    id: int
    batch_id: int
    policy_id: str
    period: str
    entity_id: str
    kind: str  # award | reversal
    amount: Decimal
    status: str
    reason: str | None
    reverses: int | None
    export_id: int | None
    net: Decimal | None = None  # award: its amount after every reversal of it

    def to_dict(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["amount"] = str(self.amount)
        data["net"] = None if self.net is None else str(self.net)
        return data


@dataclass(frozen=True)
class Proposal:
    """What proposing did: the batch (None when nothing changed), and who was held out, why."""

    batch: BatchView | None
    awards: int
    reversals: int
    held: dict[str, int]
    total: Decimal | None = None  # the lines' sum (awards less reversals), when there are lines
    sample: tuple[tuple[str, str, Decimal], ...] = ()  # a preview's first (entity, kind, amount)


@dataclass(frozen=True)
class ExportResult:
    export_id: int
    batch_id: int
    lines: int
    total: Decimal
    held: dict[str, int]
    rows: list[dict[str, str]]


@dataclass(frozen=True)
class EventView:
    """One step in a batch's history (propose, approve, withdraw, object, decide, export, paid)."""

    id: int
    line_id: int | None
    action: str
    actor: str
    at: datetime
    detail: str


@dataclass(frozen=True)
class ExportView:
    """A disbursement list already written: how many lines, how much, and whether it was paid."""

    id: int
    batch_id: int
    lines: int
    total: Decimal
    held: dict[str, int]
    exported_by: str
    exported_at: datetime
    paid_by: str | None
    paid_at: datetime | None


@dataclass(frozen=True)
class ObjectionView:
    id: int
    line_id: int
    entity_id: str
    text: str
    filed_by: str
    filed_at: datetime
    status: str
    decided_by: str | None
    decision: str | None


@dataclass(frozen=True)
class NoticeView:
    id: int
    entity_id: str
    batch_id: int
    line_id: int
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None
    gateway: str


@dataclass(frozen=True)
class DashboardRow:
    """One policy in one period, as the 免申即享 dashboard shows it."""

    policy_id: str
    policy_title: str
    period: str
    delivery: str
    eligible: int
    granted_without_application: int
    confirmed: int
    paid: int
    paid_amount: Decimal
    clawed_back: int
    objections: int
    objections_upheld: int
    applications: int
    auto_decided_applications: int
    median_days_to_money: float | None

    def to_dict(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["paid_amount"] = str(self.paid_amount)
        return data
