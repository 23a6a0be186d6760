"""The workflow on a ticket: 派单 … 归档, each action checked for permission, department, state and
the fields it needs before anything changes; a merge group's primary moves its members along."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhixiang.access import Principal
from zhixiang.tickets._deadlines import end_of_working_day_after
from zhixiang.tickets._errors import InvalidInput, ReplySentBack, TransitionRefused
from zhixiang.tickets._intake import IntakeJobs
from zhixiang.tickets._model import Command, TicketView
from zhixiang.tickets._tables import FollowUp, Ticket
from zhixiang.tickets._workflow import (
    ACTION_LABELS,
    HANDLE,
    TRANSITIONS,
    Action,
    Status,
    next_status,
)

log = logging.getLogger(__name__)


class HandlingJobs(IntakeJobs):
    def act(self, principal: Principal, ticket_id: int, cmd: Command) -> TicketView:
        """Take one workflow action; handling actions on a merge group's primary move the group."""
        rule = TRANSITIONS[cmd.action]
        self._require(principal, rule.permission)
        with self._writing() as session:
            ticket = self._load(session, ticket_id, for_update=True)
            if rule.permission == HANDLE:
                self._require_department(principal, ticket)
            if ticket.group_id is not None and rule.shared:
                raise TransitionRefused(
                    f"工单 #{ticket.id} 已并入工单 #{ticket.group_id}，请在主单上办理", "action"
                )
            before = Status(ticket.status)
            after = next_status(before, cmd.action)
            now = self.clock()
            self._check_command(session, ticket, cmd, now)
            score = self._score_reply(ticket, cmd, now) if cmd.action == Action.RESOLVE else None
            members = [ticket]
            if rule.shared:
                members += session.scalars(
                    select(Ticket).where(Ticket.group_id == ticket.id, Ticket.status == before)
                ).all()
            for member in members:
                self._apply(session, member, cmd, after, now)
                if score is not None:
                    member.reply_score, member.reply_problems = score
                self._log(session, member, cmd.action, before, principal, self._note(cmd))
            return self._view(ticket, session, principal)

    def _score_reply(
        self, ticket: Ticket, cmd: Command, now: datetime
    ) -> tuple[float, list[str]] | None:
        """Score the reply with the injected scorer; refuse it if the rules send weak ones back."""
        if self.reply_scorer is None or not cmd.reply:
            return None
        try:
            scored = self.reply_scorer.score(
                ticket.title, ticket.body, cmd.reply, ticket.created_at, now
            )
            total, problems = round(float(scored.total), 4), [str(p) for p in scored.problems]
        except Exception as exc:  # a broken scorer must not stop departments from answering
            log.warning("答复质量评分失败（%r）：本次答复不评分", exc)
            return None
        floor = self.rules.reply_quality.send_back_below
        if floor is not None and total < floor:
            reasons = "；".join(problems) or "未说明"
            raise ReplySentBack(
                f"答复质量得分 {total:.2f} 低于要求 {floor:.2f}，请修改后再办结：{reasons}",
                total,
                problems,
            )
        return total, problems

    def _check_command(self, session: Session, ticket: Ticket, cmd: Command, now: datetime) -> None:
        """Refuse a command that lacks what its action needs, before anything is changed."""
        action = cmd.action
        if cmd.category is not None:
            if action not in (Action.DISPATCH, Action.REASSIGN):
                raise InvalidInput("只有派单/改派可以更正分类", "category")
            self._check_category(cmd.category)
        if action == Action.DISPATCH:
            category = cmd.category or ticket.category
            if cmd.department is None and category:
                cmd.department = self.rules.route(category, ticket.region_code)
            cmd.department = self.check_department(cmd.department)
        elif action == Action.REASSIGN:
            cmd.department = self.check_department(cmd.department)
            if cmd.department == ticket.department:
                raise InvalidInput("改派的部门与当前承办部门相同", "department")
        elif action in (Action.RETURN, Action.EXTEND) and not cmd.reason:
            raise InvalidInput(f"{ACTION_LABELS[action]}须说明理由", "reason")
        if action == Action.EXTEND:
            ext = self.rules.extension
            if cmd.days is None or cmd.days > ext.max_working_days:
                raise InvalidInput(f"延期须给出1–{ext.max_working_days}个工作日", "days")
            if ticket.extensions >= ext.max_times:
                raise TransitionRefused(f"已延期 {ticket.extensions} 次，达到上限", "action")
            if ticket.due_at is None or now >= ticket.due_at:
                raise TransitionRefused("延期须在办理时限届满前申请，本单已超期", "action")
        elif action == Action.RESOLVE and not cmd.reply:
            raise InvalidInput("办结须填写答复意见", "reply")
        elif action == Action.FOLLOW_UP:
            if cmd.reached is None:
                raise InvalidInput("回访须说明是否联系上诉求人（reached）", "reached")
            if cmd.reached and None in (cmd.responded, cmd.solved, cmd.satisfaction):
                raise InvalidInput(
                    "有效回访须给出 responded、solved 与 satisfaction", "satisfaction"
                )
        elif action in (Action.REOPEN, Action.ARCHIVE):
            last = session.scalar(
                select(FollowUp)
                .where(FollowUp.ticket_id == ticket.id)
                .order_by(FollowUp.id.desc())
                .limit(1)
            )
            unhappy = last is not None and last.reached and last.satisfaction == "unsatisfied"
            if action == Action.REOPEN and not unhappy:
                raise TransitionRefused("只有回访不满意的工单可以重办", "action")
            if action == Action.ARCHIVE and unhappy and not cmd.reason:
                raise InvalidInput("回访不满意的工单归档须说明理由（否则应重办）", "reason")

    def _apply(
        self, session: Session, ticket: Ticket, cmd: Command, after: Status, now: datetime
    ) -> None:
        action = cmd.action
        if cmd.category:
            ticket.category, ticket.category_source = cmd.category, "person"
        if action == Action.DISPATCH:
            self._dispatch(ticket, cmd.department or "", now)
        elif action == Action.REASSIGN:
            ticket.misrouted = ticket.misrouted or ticket.department is not None
            self._dispatch(ticket, cmd.department or "", now)
        elif action == Action.RETURN:
            ticket.misrouted = True
            ticket.department = None
            ticket.sign_due_at = ticket.due_at = ticket.signed_at = ticket.next_escalation_at = None
        elif action == Action.SIGN:
            ticket.signed_at = now
        elif action == Action.EXTEND:
            assert ticket.due_at is not None and cmd.days is not None
            ticket.due_at, estimated = end_of_working_day_after(
                ticket.due_at, cmd.days, self.calendar
            )
            ticket.deadline_estimated |= estimated
            ticket.next_escalation_at = ticket.due_at
            ticket.extensions += 1
        elif action == Action.SUPERVISE:
            ticket.supervised = True
        elif action == Action.REMIND:
            ticket.reminders += 1
        elif action == Action.RESOLVE:
            ticket.reply, ticket.replied_at, ticket.resolved_at = cmd.reply, now, now
            ticket.next_escalation_at = None
        elif action == Action.FOLLOW_UP:
            session.add(
                FollowUp(
                    ticket_id=ticket.id,
                    department=ticket.department,
                    at=now,
                    reached=bool(cmd.reached),
                    responded=cmd.responded if cmd.reached else None,
                    solved=cmd.solved if cmd.reached else None,
                    satisfaction=cmd.satisfaction if cmd.reached else None,
                    comment=cmd.reason,
                )
            )
        elif action == Action.REOPEN:
            ticket.group_id = None
            ticket.resolved_at = ticket.reply = ticket.replied_at = None
            ticket.reply_score = ticket.reply_problems = None
            self._dispatch(ticket, ticket.department or "", now)
        elif action == Action.ARCHIVE:
            ticket.archived_at = now
        ticket.status = after
        ticket.updated_at = now

    @staticmethod
    def _note(cmd: Command) -> str | None:
        parts = [cmd.reason, cmd.reply]
        if cmd.department and cmd.action in (Action.DISPATCH, Action.REASSIGN):
            parts.append(f"承办部门 {cmd.department}")
        if cmd.days:
            parts.append(f"延期 {cmd.days} 个工作日")
        return "；".join(p for p in parts if p) or None
