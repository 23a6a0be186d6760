"""智能快审: applications for a `申请审核` policy, decided from the data hub's shared facts (免证办).

An entity applies with only what the government cannot know; the rest is read from the data hub
under a grant to the policy for the purpose `智能快审`. Clear cases are decided at once (approved with
the amount, or refused with the failed conditions and the data behind them); missing facts,
contradictions between departments and conditions marked `needs_review: true` go to a reviewer,
who may also override an automatic decision with a reason. Every step is kept in a history.
"""

from zhixiang.review._decide import (
    APPROVED,
    PENDING,
    REFUSED,
    STATUS_LABELS,
    Check,
    Decision,
    Fact,
    decide,
)
from zhixiang.review._desk import (
    APPLICATION_MODE,
    PURPOSE,
    ApplicationView,
    EventView,
    FactSource,
    ReviewDesk,
    open_review_desk,
)

__all__ = [
    "APPLICATION_MODE",
    "APPROVED",
    "PENDING",
    "PURPOSE",
    "REFUSED",
    "STATUS_LABELS",
    "ApplicationView",
    "Check",
    "Decision",
    "EventView",
    "Fact",
    "FactSource",
    "ReviewDesk",
    "decide",
    "open_review_desk",
]
