"""主动发现: hot topics, surge alerts and reply quality over citizens' messages and the ticket store.

Layer 4: reads messages from files or from `zhixiang.tickets` (its public face only) and the
classifier from `zhixiang.classify`; the CLI, API and web call only what is listed here.
"""

from zhixiang.insight._alerts import AlertStore, AlertView, open_alert_store
from zhixiang.insight._dashboard import TopicTrend, scan, surge_events, topic_trends
from zhixiang.insight._duplicates import DuplicateStudy, ThresholdPoint, study_threshold
from zhixiang.insight._io import REPLY_COLUMNS, TOPIC_COLUMNS, write_quarantine, write_rows
from zhixiang.insight._messages import (
    BODY,
    REPLY,
    TIME,
    TITLE,
    Message,
    MessageFileError,
    MessageTable,
    Problem,
    parse_time,
    read_table,
)
from zhixiang.insight._replies import ReplyScore, ReplyScorer, ReplySettings, ReplyWeights
from zhixiang.insight._store import (
    DepartmentQuality,
    messages_from_store,
    quality_by_department,
    store_reply_quality,
    ticket_views,
)
from zhixiang.insight._surges import Event, Surge, SurgeSettings, area_of, detect_surges
from zhixiang.insight._topics import Topic, TopicSettings, find_topics, heat_index

__all__ = [
    "BODY",
    "REPLY",
    "REPLY_COLUMNS",
    "TIME",
    "TITLE",
    "TOPIC_COLUMNS",
    "AlertStore",
    "AlertView",
    "DepartmentQuality",
    "DuplicateStudy",
    "Event",
    "Message",
    "MessageFileError",
    "MessageTable",
    "Problem",
    "ReplyScore",
    "ReplyScorer",
    "ReplySettings",
    "ReplyWeights",
    "Surge",
    "SurgeSettings",
    "ThresholdPoint",
    "Topic",
    "TopicSettings",
    "TopicTrend",
    "area_of",
    "detect_surges",
    "find_topics",
    "heat_index",
    "messages_from_store",
    "open_alert_store",
    "parse_time",
    "quality_by_department",
    "read_table",
    "scan",
    "store_reply_quality",
    "study_threshold",
    "surge_events",
    "ticket_views",
    "topic_trends",
    "write_quarantine",
    "write_rows",
]
