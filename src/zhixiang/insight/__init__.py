"""主动发现: hot topics, surge alerts and reply quality over citizens' messages and the ticket store.

Layer 4: reads messages from files or from `zhixiang.tickets` (its public face only) and the
classifier from `zhixiang.classify`; the CLI, API and web call only what is listed here.
"""

from zhixiang.insight._io import REPLY_COLUMNS, TOPIC_COLUMNS, write_quarantine, write_rows
from zhixiang.insight._messages import (
    Message,
    MessageFileError,
    MessageTable,
    Problem,
    parse_time,
    read_table,
)
from zhixiang.insight._replies import ReplyScore, ReplyScorer, ReplySettings, ReplyWeights
from zhixiang.insight._topics import Topic, TopicSettings, find_topics, heat_index

__all__ = [
    "REPLY_COLUMNS",
    "TOPIC_COLUMNS",
    "Message",
    "MessageFileError",
    "MessageTable",
    "Problem",
    "ReplyScore",
    "ReplyScorer",
    "ReplySettings",
    "ReplyWeights",
    "Topic",
    "TopicSettings",
    "find_topics",
    "heat_index",
    "parse_time",
    "read_table",
    "write_quarantine",
    "write_rows",
]
