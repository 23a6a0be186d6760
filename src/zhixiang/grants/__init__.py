"""免申即享: from a match run to money without an application, in an append-only grant ledger.

A policy officer proposes a batch per policy and period from the current match run
(`propose_from_run`); a reviewer who did not propose it approves it (`GrantLedger.approve`);
during an optional public notice entities object (`object`, `decide`); confirmed lines are
exported in a bank-file layout (`export`) and marked paid (`mark_paid`); a later run that no
longer supports an award adds a reversal line (冲正/追回). 智能快审 enters an approved application
with `GrantLedger.record_award(policy, period, entity_id, amount, by, application_id=…)`.
Layer 4: reads `zhixiang.matching` and `zhixiang.rules`; knows nothing of HTTP.
"""

from zhixiang.grants._from_run import propose_from_run
from zhixiang.grants._ledger import GrantLedger, check_period, open_ledger, write_bank_file
from zhixiang.grants._views import (
    BANK_COLUMNS,
    STATUSES,
    BatchView,
    DashboardRow,
    EventView,
    ExportResult,
    ExportView,
    LineView,
    NoticeView,
    ObjectionView,
    Proposal,
    parse_amount,
    to_fen,
    to_yuan,
)

__all__ = [
    "BANK_COLUMNS",
    "STATUSES",
    "BatchView",
    "DashboardRow",
    "EventView",
    "ExportResult",
    "ExportView",
    "GrantLedger",
    "LineView",
    "NoticeView",
    "ObjectionView",
    "Proposal",
    "check_period",
    "open_ledger",
    "parse_amount",
    "propose_from_run",
    "to_fen",
    "to_yuan",
    "write_bank_file",
]
