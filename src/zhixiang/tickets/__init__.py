"""接诉即办: citizens' requests received, classified, routed, tracked against deadlines and counted.

Other capabilities and the web/CLI edges import only from here (and `zhixiang.tickets.channels`).
Callers are `zhixiang.access.Principal`s; every store operation checks the caller's permission.
"""

from zhixiang.tickets._base import DISPATCH_CENTER
from zhixiang.tickets._calendar import WorkCalendar, YearSchedule, parse_holidays
from zhixiang.tickets._deadlines import CST, TimeLimit, add_working_days, deadline
from zhixiang.tickets._duplicates import NgramIndex, similarities
from zhixiang.tickets._errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ReplySentBack,
    TicketsError,
    TransitionRefused,
    Unauthenticated,
)
from zhixiang.tickets._importing import ImportedTicket, ImportReport
from zhixiang.tickets._intake import Attachment
from zhixiang.tickets._metrics import DepartmentMetrics, MetricsReport, Rate
from zhixiang.tickets._model import (
    SATISFACTION_LABELS,
    Command,
    IntakeResult,
    MetricsQuery,
    SearchFilters,
    TicketDraft,
    TicketView,
)
from zhixiang.tickets._privacy import PublicTicket, mask_contact, mask_name, public_view, scrub
from zhixiang.tickets._protocols import Classifier, ReplyScorer, ScoredReply
from zhixiang.tickets._rules import DEFAULT_RULES, RequestRules, load_rules
from zhixiang.tickets._store import TicketStore, open_store
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
    "CST",
    "DEFAULT_RULES",
    "DISPATCH_CENTER",
    "SATISFACTION_LABELS",
    "STATUS_LABELS",
    "TRANSITIONS",
    "Action",
    "Attachment",
    "Classifier",
    "Command",
    "DepartmentMetrics",
    "Forbidden",
    "ImportReport",
    "ImportedTicket",
    "IntakeResult",
    "InvalidInput",
    "MetricsQuery",
    "MetricsReport",
    "NgramIndex",
    "NotFound",
    "PayloadTooLarge",
    "PublicTicket",
    "Rate",
    "ReplyScorer",
    "ReplySentBack",
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
    "WorkCalendar",
    "YearSchedule",
    "add_working_days",
    "deadline",
    "load_rules",
    "mask_contact",
    "mask_name",
    "next_status",
    "open_store",
    "parse_holidays",
    "public_view",
    "scrub",
    "similarities",
]
