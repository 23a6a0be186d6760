"""接诉即办: citizens' requests received, classified, routed, tracked against deadlines and counted.

Other capabilities and the web/CLI edges import only from here.
"""

from zhixiang.requests._deadlines import TimeLimit, add_working_days, deadline
from zhixiang.requests._duplicates import similarities
from zhixiang.requests._errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    RequestsError,
    TransitionRefused,
    Unauthenticated,
)
from zhixiang.requests._metrics import DepartmentMetrics, MetricsReport, Rate
from zhixiang.requests._rules import DEFAULT_RULES, RequestRules, load_rules
from zhixiang.requests._store import DISPATCH_CENTER, TicketStore, make_engine, open_store
from zhixiang.requests._types import (
    SATISFACTION_LABELS,
    Classifier,
    Command,
    IntakeResult,
    KeyView,
    Principal,
    SearchFilters,
    TicketDraft,
    TicketView,
    mask_contact,
)
from zhixiang.requests._workflow import (
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
    "RequestRules",
    "RequestsError",
    "SearchFilters",
    "Status",
    "TicketDraft",
    "TicketStore",
    "TicketView",
    "TimeLimit",
    "TransitionRefused",
    "Unauthenticated",
    "add_working_days",
    "deadline",
    "load_rules",
    "make_engine",
    "mask_contact",
    "next_status",
    "open_store",
    "similarities",
]
