"""The ticket store: every job of 接诉即办 over one database, each job in its own module.

| job | module |
| --- | --- |
| 受理 (intake, duplicate proposals) | `_intake.py` |
| the workflow (派单 … 归档), reply scoring | `_handling.py` |
| 并单 | `_merging.py` |
| 超期升级 | `_escalation.py` |
| reading, search, queues, public views | `_queries.py` |
| 三率 and timeliness | `_metrics.py` |
| work orders from another system | `_importing.py` |

Every operation takes the calling `zhixiang.access.Principal`, checks its permission first, runs in
one transaction and checks everything before it changes anything, so a refused request leaves the
store as it was.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from zhixiang.tickets._calendar import WorkCalendar
from zhixiang.tickets._escalation import EscalationJobs
from zhixiang.tickets._handling import HandlingJobs
from zhixiang.tickets._importing import ImportingJobs
from zhixiang.tickets._merging import MergingJobs
from zhixiang.tickets._metrics import MetricsJobs
from zhixiang.tickets._protocols import Classifier, ReplyScorer
from zhixiang.tickets._queries import QueryJobs

if TYPE_CHECKING:
    from zhixiang.config import Settings

log = logging.getLogger(__name__)


class TicketStore(HandlingJobs, ImportingJobs, MergingJobs, EscalationJobs, QueryJobs, MetricsJobs):
    """All ticket operations; the web layer and the CLI call these and nothing below them."""

    def calendar_years(self) -> list[int]:
        """Years whose holiday schedule is known; deadlines in other years are estimates."""
        return self.calendar.known_years()


def open_store(
    url: str | None = None,
    with_classifier: bool = True,
    reply_scorer: ReplyScorer | None = None,
    settings: Settings | None = None,
) -> TicketStore:
    """The configured store (`Settings.tickets_db`), migrated, with the shipped classifier if present,
    and the holiday calendar extended by `Settings.holidays`.

    Without a classifier every ticket lacking a category waits for manual dispatch, which is safe.
    """
    from zhixiang.config import load_settings

    settings = settings or load_settings()
    classifier = _load_classifier(settings) if with_classifier else None
    store = TicketStore(
        url or settings.tickets_url,
        classifier=classifier,
        calendar=WorkCalendar.default(settings.holidays),
        reply_scorer=reply_scorer,
    )
    store.migrate()
    return store


def _load_classifier(settings: Settings) -> Classifier | None:
    try:
        from zhixiang.classify import load_model
    except ImportError:
        log.warning("zhixiang.classify 不可用：未分类的诉求将进入人工派单队列")
        return None
    try:
        return load_model(settings.classifier_model)
    except Exception as exc:  # a broken model file must not stop intake: tickets wait for a person
        log.warning("分类模型加载失败（%r）：未分类的诉求将进入人工派单队列", exc)
        return None
