"""The ticket state machine: which action may move a ticket from which state, and who may take it.

Pure data and one function, so the rules can be read in one screen and tested without a database.
Who may take an action is a permission of `zhixiang.access`; handling actions are also held to the
ticket's own department (`Principal.sees_department`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from zhixiang.tickets._errors import TransitionRefused


class Status(StrEnum):
    RECEIVED = "received"
    DISPATCHED = "dispatched"
    SIGNED = "signed"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    FOLLOWED_UP = "followed_up"
    ARCHIVED = "archived"


STATUS_LABELS: dict[Status, str] = {
    Status.RECEIVED: "已受理(待派单)",
    Status.DISPATCHED: "已派单(待签收)",
    Status.SIGNED: "已签收",
    Status.IN_PROGRESS: "办理中",
    Status.RESOLVED: "已答复/办结",
    Status.FOLLOWED_UP: "已回访",
    Status.ARCHIVED: "已归档",
}

#: States in which the responsible department still owes work; deadlines and escalation apply.
HANDLING = frozenset({Status.DISPATCHED, Status.SIGNED, Status.IN_PROGRESS})
#: States counted as "open" for duplicate detection (并单).
OPEN = frozenset({Status.RECEIVED, *HANDLING})


class Action(StrEnum):
    DISPATCH = "dispatch"
    SIGN = "sign"
    START = "start"
    RETURN = "return"
    REASSIGN = "reassign"
    EXTEND = "extend"
    SUPERVISE = "supervise"
    REMIND = "remind"
    RESOLVE = "resolve"
    FOLLOW_UP = "follow_up"
    REOPEN = "reopen"
    ARCHIVE = "archive"


ACTION_LABELS: dict[Action, str] = {
    Action.DISPATCH: "派单",
    Action.SIGN: "签收",
    Action.START: "办理",
    Action.RETURN: "退单",
    Action.REASSIGN: "改派",
    Action.EXTEND: "延期",
    Action.SUPERVISE: "督办",
    Action.REMIND: "催办",
    Action.RESOLVE: "答复/办结",
    Action.FOLLOW_UP: "回访",
    Action.REOPEN: "重办",
    Action.ARCHIVE: "归档",
}


@dataclass(frozen=True)
class Transition:
    sources: frozenset[Status]
    target: Status | None  # None: the state does not change (督办, 催办, 延期)
    permission: (
        str  # a `zhixiang.access` permission; `tickets.handle` also means "own department only"
    )
    shared: bool  # applied to every ticket merged into this one (并单 share handling)


DISPATCH, HANDLE, FOLLOW_UP = "tickets.dispatch", "tickets.handle", "tickets.follow_up"

TRANSITIONS: dict[Action, Transition] = {
    Action.DISPATCH: Transition(frozenset({Status.RECEIVED}), Status.DISPATCHED, DISPATCH, True),
    Action.SIGN: Transition(frozenset({Status.DISPATCHED}), Status.SIGNED, HANDLE, True),
    Action.START: Transition(frozenset({Status.SIGNED}), Status.IN_PROGRESS, HANDLE, True),
    Action.RETURN: Transition(
        frozenset({Status.DISPATCHED, Status.SIGNED}), Status.RECEIVED, HANDLE, True
    ),
    Action.REASSIGN: Transition(HANDLING | {Status.RECEIVED}, Status.DISPATCHED, DISPATCH, True),
    Action.EXTEND: Transition(frozenset({Status.SIGNED, Status.IN_PROGRESS}), None, HANDLE, True),
    Action.SUPERVISE: Transition(HANDLING, None, DISPATCH, True),
    Action.REMIND: Transition(HANDLING, None, DISPATCH, True),
    Action.RESOLVE: Transition(
        frozenset({Status.SIGNED, Status.IN_PROGRESS}), Status.RESOLVED, HANDLE, True
    ),
    Action.FOLLOW_UP: Transition(
        frozenset({Status.RESOLVED}), Status.FOLLOWED_UP, FOLLOW_UP, False
    ),
    Action.REOPEN: Transition(frozenset({Status.FOLLOWED_UP}), Status.DISPATCHED, FOLLOW_UP, False),
    Action.ARCHIVE: Transition(frozenset({Status.FOLLOWED_UP}), Status.ARCHIVED, FOLLOW_UP, False),
}


def next_status(status: Status, action: Action) -> Status:
    """The state after `action`, or a refusal naming the states the action is allowed from."""
    rule = TRANSITIONS[action]
    if status not in rule.sources:
        allowed = "、".join(STATUS_LABELS[s] for s in Status if s in rule.sources)
        raise TransitionRefused(
            f"工单当前状态为「{STATUS_LABELS[status]}」，不能{ACTION_LABELS[action]}"
            f"（仅允许于：{allowed}）",
            field="action",
        )
    return rule.target or status
