"""三率 and timeliness, each a numerator over an explicit denominator so nobody has to guess what counted.

Pure functions over plain rows; `MetricsJobs.metrics` selects the rows for a period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import or_, select

from zhixiang.access import Principal
from zhixiang.tickets._base import StoreBase, naive_utc
from zhixiang.tickets._errors import Forbidden, InvalidInput, NotFound
from zhixiang.tickets._model import UtcDatetime
from zhixiang.tickets._tables import FollowUp, Ticket


class Rate(BaseModel):
    numerator: int
    denominator: int
    value: float | None  # None when nothing was counted: no rate rather than a fake 100 %
    definition: str


def rate(numerator: int, denominator: int, definition: str) -> Rate:
    value = round(numerator / denominator, 4) if denominator else None
    return Rate(numerator=numerator, denominator=denominator, value=value, definition=definition)


class DepartmentMetrics(BaseModel):
    department: str
    name: str
    valid_follow_ups: int
    response_rate: Rate
    resolution_rate: Rate
    satisfaction_rate: Rate
    on_time_sign_rate: Rate
    on_time_resolve_rate: Rate


class MetricsReport(BaseModel):
    since: UtcDatetime
    until: UtcDatetime
    departments: list[DepartmentMetrics]
    total: DepartmentMetrics
    dispatch_accuracy: Rate
    auto_dispatch_accuracy: Rate


@dataclass(frozen=True)
class FollowUpRow:
    """The latest follow-up of one ticket inside the period."""

    department: str | None
    reached: bool
    responded: bool | None
    solved: bool | None
    satisfaction: str | None


@dataclass(frozen=True)
class AssignmentRow:
    """A ticket dispatched inside the period, on its current assignment."""

    department: str | None
    sign_due_at: datetime | None
    signed_at: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class DispatchRow:
    auto: bool
    misrouted: bool


def department_metrics(
    department: str,
    name: str,
    follow_ups: Iterable[FollowUpRow],
    assignments: Iterable[AssignmentRow],
    now: datetime,
) -> DepartmentMetrics:
    valid = [f for f in follow_ups if f.reached]
    satisfied = sum(f.satisfaction in ("satisfied", "basically_satisfied") for f in valid)
    sign_due = [a for a in assignments if a.signed_at is not None or (a.sign_due_at or now) < now]
    on_time_sign = sum(
        a.signed_at is not None and a.sign_due_at is not None and a.signed_at <= a.sign_due_at
        for a in sign_due
    )
    resolve_due = [a for a in assignments if a.resolved_at is not None or (a.due_at or now) < now]
    on_time_resolve = sum(
        a.resolved_at is not None and a.due_at is not None and a.resolved_at <= a.due_at
        for a in resolve_due
    )
    per_valid = "有效回访（联系上诉求人的最近一次回访）"
    return DepartmentMetrics(
        department=department,
        name=name,
        valid_follow_ups=len(valid),
        response_rate=rate(
            sum(bool(f.responded) for f in valid), len(valid), f"响应的 / {per_valid}"
        ),
        resolution_rate=rate(
            sum(bool(f.solved) for f in valid), len(valid), f"已解决 / {per_valid}"
        ),
        satisfaction_rate=rate(satisfied, len(valid), f"满意+基本满意 / {per_valid}"),
        on_time_sign_rate=rate(
            on_time_sign, len(sign_due), "时限内签收 / 本期派出且已签收或签收时限已过的工单"
        ),
        on_time_resolve_rate=rate(
            on_time_resolve,
            len(resolve_due),
            "时限内(含批准的延期)办结 / 本期派出且已办结或办理时限已过的工单",
        ),
    )


def report(
    since: datetime,
    until: datetime,
    names: dict[str, str],
    follow_ups: list[FollowUpRow],
    assignments: list[AssignmentRow],
    dispatches: list[DispatchRow],
    now: datetime,
    only: str | None = None,
) -> MetricsReport:
    """Per-department rows (those with anything to count, or `only`), a total row, and dispatch accuracy."""
    by_follow: dict[str | None, list[FollowUpRow]] = defaultdict(list)
    by_assign: dict[str | None, list[AssignmentRow]] = defaultdict(list)
    for f in follow_ups:
        by_follow[f.department].append(f)
    for a in assignments:
        by_assign[a.department].append(a)
    departments = [only] if only else sorted(d for d in {*by_follow, *by_assign} if d)
    rows = [
        department_metrics(d, names.get(d, d), by_follow[d], by_assign[d], now) for d in departments
    ]
    total = department_metrics("*", "全部", follow_ups, assignments, now)
    auto = [d for d in dispatches if d.auto]
    definition = "未被退单或改派的工单 / 本期受理并派出的工单"
    return MetricsReport(
        since=since,
        until=until,
        departments=rows,
        total=total,
        dispatch_accuracy=rate(
            sum(not d.misrouted for d in dispatches), len(dispatches), definition
        ),
        auto_dispatch_accuracy=rate(
            sum(not d.misrouted for d in auto), len(auto), "（模型自动派单）" + definition
        ),
    )


class MetricsJobs(StoreBase):
    def metrics(
        self,
        principal: Principal,
        since: datetime,
        until: datetime,
        department: str | None = None,
    ) -> MetricsReport:
        """三率, timeliness and dispatch accuracy for [since, until), per department or for one.

        A merge group is one assignment: only its primary counts in 按时签收率 and 按期办结率 (the
        members were signed and answered by the same act). Each reporter's 回访 counts on its own.
        """
        self._require(principal, "tickets.metrics")
        if department is not None:
            found = self.directory.get(department)
            if found is None:
                raise NotFound(f"没有部门 {department!r}", "department")
            department = found.code
        if not principal.citywide:
            if department not in (None, principal.department):
                raise Forbidden("部门只能查看本部门的指标", "department")
            department = principal.department
        since, until = naive_utc(since), naive_utc(until)
        if since >= until:
            raise InvalidInput("统计区间的开始须早于结束", "since")
        with self._session() as session:
            latest: dict[int, FollowUp] = {}
            follow_up_query = select(FollowUp).where(FollowUp.at >= since, FollowUp.at < until)
            for f in session.scalars(follow_up_query.order_by(FollowUp.id)):
                latest[f.ticket_id] = f
            follow_ups = [
                FollowUpRow(f.department, f.reached, f.responded, f.solved, f.satisfaction)
                for f in latest.values()
                if department in (None, f.department)
            ]
            assignment_query = select(
                Ticket.department,
                Ticket.sign_due_at,
                Ticket.signed_at,
                Ticket.due_at,
                Ticket.resolved_at,
            ).where(
                Ticket.dispatched_at >= since,
                Ticket.dispatched_at < until,
                Ticket.group_id.is_(None),
            )
            if department is not None:
                assignment_query = assignment_query.where(Ticket.department == department)
            assignments = [AssignmentRow(*r) for r in session.execute(assignment_query)]
            dispatch_query = select(
                Ticket.auto_dispatched & Ticket.model_version.is_not(None), Ticket.misrouted
            ).where(
                Ticket.created_at >= since,
                Ticket.created_at < until,
                or_(Ticket.dispatched_at.is_not(None), Ticket.misrouted),
            )
            dispatches = [DispatchRow(bool(a), bool(m)) for a, m in session.execute(dispatch_query)]
        names = {d.code: d.name for d in self.directory}
        return report(
            since, until, names, follow_ups, assignments, dispatches, self.clock(), department
        )
