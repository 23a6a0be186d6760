"""接诉即办: citizens' requests received, classified, routed, tracked against deadlines and counted.

Other capabilities and the web/CLI edges import only from here.
"""

from zhixiang.tickets._deadlines import TimeLimit, add_working_days, deadline
from zhixiang.tickets._duplicates import similarities
from zhixiang.tickets._errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    TicketsError,
    TransitionRefused,
    Unauthenticated,
)
from zhixiang.tickets._metrics import DepartmentMetrics, MetricsReport, Rate
from zhixiang.tickets._rules import DEFAULT_RULES, RequestRules, load_rules
from zhixiang.tickets._store import DISPATCH_CENTER, TicketStore, open_store
from zhixiang.tickets._types import (
    SATISFACTION_LABELS,
    Classifier,
    Command,
    IntakeResult,
    KeyView,
    Principal,
    ReplyScorer,
    ScoredReply,
    SearchFilters,
    TicketDraft,
    TicketView,
    mask_contact,
)
from zhixiang.tickets._workflow import (
    ACTION_LABELS,
    STATUS_LABELS,
    TRANSITIONS,
    Action,
    Status,
    next_status,
)

__all__ = [
    "ACTION_LABELS",
    "DEFAULT_RULES",
    "DISPATCH_CENTER",
    "SATISFACTION_LABELS",
    "STATUS_LABELS",
    "TRANSITIONS",
    "Action",
    "Classifier",
    "Command",
    "DepartmentMetrics",
    "Forbidden",
    "IntakeResult",
    "InvalidInput",
    "KeyView",
    "MetricsReport",
    "NotFound",
    "Principal",
    "Rate",
    "ReplyScorer",
    "RequestRules",
    "ScoredReply",
    "SearchFilters",
    "Status",
    "TicketDraft",
    "TicketStore",
    "TicketView",
    "TicketsError",
    "TimeLimit",
    "TransitionRefused",
    "Unauthenticated",
    "add_working_days",
    "deadline",
    "load_rules",
    "mask_contact",
    "next_status",
    "open_store",
    "similarities",
]
