"""The grant ledger (免申即享): batches proposed from a match run, approved by a second person,
optionally put on public notice, exported for disbursement, marked paid, corrected by reversals.

Every write is one transaction, so a crash (even kill -9) leaves it done or not done. The partial
UNIQUE index on (policy, period, entity) over payable awards means no rerun, second batch or
concurrent writer can ever create a second payable line; on PostgreSQL writers also queue behind
one advisory lock, on SQLite behind BEGIN IMMEDIATE, so budget and cap checks see every earlier
write.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, and_, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from zhixiang.access import Principal, Role
from zhixiang.db import make_engine, migrate
from zhixiang.errors import Conflict, Forbidden, InvalidInput, NotFound
from zhixiang.grants import _tables as t
from zhixiang.grants._views import (
    BANK_COLUMNS,
    CONFIRMED,
    PAID,
    PENDING,
    RETURNED,
    REVOKED,
    VOID,
    BatchView,
    DashboardRow,
    EventView,
    ExportResult,
    ExportView,
    LineView,
    NoticeView,
    ObjectionView,
    Proposal,
    to_fen,
    to_yuan,
)
from zhixiang.rules import Policy, format_money

MIGRATIONS = Path(__file__).with_name("migrations")
PERIOD = re.compile(r"^20[0-9]{2}$")
_WRITE_LOCK = 2104018808  # PostgreSQL advisory lock under which ledger writes queue
_MAX_NOTICE_DAYS = 60
_FEW_AMOUNTS = 16  # distinct amounts up to which award lines are loaded one amount at a time
_INDEXES_LATER_FROM = 20_000  # lines in one write from which indexes are rebuilt after the load
#: How many lines a preview of a proposal lists (its counts and total cover every line).
PREVIEW_SAMPLE = 50
DIRECT, CONFIRM, APPLY = "直接兑现", "意愿确认", "申请审核"
# Money that counts (budgets, caps, nets): lines not 撤销, and no reversal of a 撤销 award (a
# revoked award counts nothing, so what reversed it counts nothing either).
_target = t.lines.alias("target")
_MONEY_FROM = t.lines.outerjoin(_target, _target.c.id == t.lines.c.reverses)
_LIVE_MONEY = and_(
    t.lines.c.status != REVOKED, or_(_target.c.id.is_(None), _target.c.status != REVOKED)
)


def _fen_map(amounts: Mapping[str, Decimal | None]) -> dict[str, int]:
    """Entity → fen (None → 0). Each distinct amount is converted once: a batch of a million
    lines has few distinct amounts, and a dict lookup costs a fraction of a Decimal multiply."""
    fen_of = {a: 0 if a is None else to_fen(a) for a in set(amounts.values())}
    return dict(zip(amounts.keys(), map(fen_of.__getitem__, amounts.values()), strict=True))


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def check_period(period: str) -> str:
    if not PERIOD.match(period or ""):
        raise InvalidInput(f"年度应为四位年份，如 2026，实为 {period!r}", field="period")
    return period


def _policy_snapshot(policy: Policy) -> dict[str, Any]:
    """The reasons every line of a batch shares: the source, and each condition as written."""
    return {
        "document": policy.document,
        "clause": policy.clause,
        "department": policy.department,
        "conditions": [
            {"id": c.id, "label": c.label, "expression": c.source.strip()}
            for c in policy.conditions
        ],
        "benefit": policy.benefit.source.strip() if policy.benefit else None,
        "exclusivity_group": policy.exclusivity_group,
        "annual_cap": None if policy.annual_cap is None else str(policy.annual_cap),
        "budget": None
        if policy.budget is None
        else {"amount": str(policy.budget.amount), "shortfall": policy.budget.shortfall},
    }


class GrantLedger:
    """The ledger on an operational database (SQLite by default, PostgreSQL in production)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url, immediate=True)
        self._reader = make_engine(url)
        self.postgres = self.engine.dialect.name == "postgresql"

    def migrate(self) -> None:
        migrate(self.engine, MIGRATIONS, t.VERSION_TABLE)

    def dispose(self) -> None:
        self.engine.dispose()
        self._reader.dispose()

    # ------------------------------------------------------------------ transactions

    def _write(self) -> Any:
        return _Writing(self)

    # ------------------------------------------------------------------ proposing

    def propose(
        self,
        policy: Policy,
        period: str,
        eligible: Mapping[str, Decimal | None],
        by: Principal,
        *,
        run_id: str | None,
        as_of: date | None,
        peers: Mapping[str, tuple[str, Mapping[str, Decimal | None]]] | None = None,
        undecided: Iterable[str] = (),
        notice_days: int = 0,
        preview: bool = False,
    ) -> Proposal:
        """Propose a batch for `policy` in `period` from the entities a match run found eligible.

        `eligible` maps entity → amount; `peers` the same for the other policies of its
        exclusivity group in the same run (policy id → (title, eligible)); `undecided` the
        entities the run could not decide (missing facts: no clawback for them). Awards go to
        entities without one yet; an award the run no longer supports gets a reversal line. When
        nothing changes, nothing is written and the proposal's batch is None. With `preview`,
        nothing is written either: the proposal says what proposing now would do (its `total` and
        first `sample` lines), with every check of a real proposal.
        """
        by.require("grants.propose")
        check_period(period)
        if policy.delivery == APPLY:
            raise InvalidInput(
                f"政策 {policy.id} 的兑现方式为申请审核：由智能快审逐件审批后入账，不能批量提出",
                field="policy_id",
            )
        if policy.benefit is None:
            raise InvalidInput(f"政策 {policy.id} 没有兑现金额（benefit），无法提出兑现批次")
        if not 0 <= notice_days <= _MAX_NOTICE_DAYS:
            raise InvalidInput(f"公示天数应在 0–{_MAX_NOTICE_DAYS} 之间", field="notice_days")
        if as_of is not None and not policy.in_force(as_of):
            raise InvalidInput(f"政策 {policy.id} 在匹配日期 {as_of} 不在有效期内")
        held: dict[str, int] = {}

        def hold(reason: str, n: int = 1) -> None:
            held[reason] = held.get(reason, 0) + n

        due = _fen_map(eligible)
        want = {entity: fen for entity, fen in due.items() if fen > 0}
        if len(want) < len(due):
            hold("兑现金额为零或未知", len(due) - len(want))
        group = policy.exclusivity_group
        if group and peers:
            for pid, (title, rows) in sorted(peers.items()):
                for entity, other in _fen_map(rows).items():
                    mine = want.get(entity)
                    if mine is not None and (other > mine or (other == mine and pid < policy.id)):
                        del want[entity]
                        hold(f"互斥组“{group}”：就高享受《{title}》")

        with self._write() as c:
            open_batch = c.execute(
                select(t.batches.c.id).where(
                    t.batches.c.policy_id == policy.id,
                    t.batches.c.period == period,
                    t.batches.c.status == "proposed",
                )
            ).first()
            if open_batch is not None:
                raise Conflict(
                    f"政策 {policy.id} {period} 年度的批次 {open_batch.id} 尚待审批："
                    "请先审批或撤回，再提出新批次",
                    field="policy_id",
                )
            existing, awards = self._awards(c, policy.id, period)
            if existing:
                # the anti-join: what the ledger already holds is never proposed again
                again = existing & want.keys()
                for entity in again:
                    del want[entity]
                hold("已在台账（不重复兑现）", len(existing & eligible.keys()))
            if group and peers:
                taken = c.execute(
                    select(t.lines.c.entity_id, t.batches.c.policy_title)
                    .join(t.batches, t.batches.c.id == t.lines.c.batch_id)
                    .where(
                        t.lines.c.period == period,
                        t.lines.c.kind == "award",
                        t.lines.c.status != REVOKED,
                        t.lines.c.policy_id.in_(list(peers)),
                    )
                ).all()
                for entity, title in taken:
                    if want.pop(entity, None) is not None:
                        hold(f"互斥组“{group}”：已享受《{title}》")
            if policy.annual_cap is not None and want:
                cap = to_fen(policy.annual_cap)
                received = dict(
                    c.execute(
                        select(t.lines.c.entity_id, func.sum(t.lines.c.amount_fen))
                        .select_from(_MONEY_FROM)
                        .where(t.lines.c.period == period, _LIVE_MONEY)
                        .group_by(t.lines.c.entity_id)
                    ).all()
                )
                for entity in list(want):
                    room = cap - int(received.get(entity, 0))
                    if room <= 0:
                        del want[entity]
                        hold(f"已达年度奖励总额上限 {format_money(policy.annual_cap)}")
                    elif want[entity] > room:
                        want[entity] = room
                        hold(f"按年度上限 {format_money(policy.annual_cap)} 核减")
            if policy.budget is not None and want:
                self._apply_budget(c, policy, period, want, hold)
            reversals = self._reversals(awards, due, set(undecided), run_id, hold)
            if not want and not reversals:
                return Proposal(None, 0, 0, held)
            if preview:
                total = sum(want.values()) + sum(r[2] for r in reversals)
                sample = [(e, "award", to_yuan(fen)) for e, fen in sorted(want.items())]
                sample += [(e, "reversal", to_yuan(fen)) for _, e, fen, _, _ in reversals]
                return Proposal(
                    None,
                    len(want),
                    len(reversals),
                    held,
                    total=to_yuan(total),
                    sample=tuple(sample[:PREVIEW_SAMPLE]),
                )
            batch_id = self._insert_batch(
                c,
                policy,
                period,
                "grant",
                by,
                run_id=run_id,
                as_of=as_of,
                eligible=len(eligible),
                lines=len(want) + len(reversals),
                total=sum(want.values()) + sum(r[2] for r in reversals),
                held=held,
                notice_days=notice_days,
            )
            try:
                with self._indexes_later(c, t.lines, len(want) + len(reversals)):
                    self._bulk_awards(c, batch_id, policy.id, period, want)
                    self._bulk_lines(
                        c,
                        [
                            (
                                batch_id,
                                policy.id,
                                period,
                                e,
                                "reversal",
                                fen,
                                award,
                                basis,
                                PENDING,
                                why,
                            )
                            for award, e, fen, basis, why in reversals
                        ],
                    )
            except IntegrityError:
                raise Conflict("另一批次同时为同一主体入账，请重试（本次未写入任何内容）") from None
            self._event(
                c, batch_id, None, "propose", by, f"{len(want)} 笔兑现，{len(reversals)} 笔冲正"
            )
            # every line of a new batch is 待确认 and has no objection yet: no need to count them
            view = _batch_view(
                self._batch_row(c, batch_id), {PENDING: len(want) + len(reversals)}, 0
            )
        return Proposal(view, len(want), len(reversals), held, total=view.total)

    def _apply_budget(
        self, c: Connection, policy: Policy, period: str, want: dict[str, int], hold: Any
    ) -> None:
        assert policy.budget is not None
        budget = to_fen(policy.budget.amount)
        used = int(
            c.execute(
                select(func.coalesce(func.sum(t.lines.c.amount_fen), 0))
                .select_from(_MONEY_FROM)
                .where(t.lines.c.policy_id == policy.id, t.lines.c.period == period, _LIVE_MONEY)
            ).scalar_one()
        )
        room, asked = budget - used, sum(want.values())
        if asked <= room:
            return
        rule = policy.budget.shortfall
        if rule == "拒绝" or room <= 0:
            raise Conflict(
                f"批次合计 {format_money(to_yuan(asked))} 超出政策 {policy.id} {period} 年度预算余额 "
                f"{format_money(to_yuan(max(room, 0)))}（预算 {format_money(policy.budget.amount)}，"
                f"不足时规则：{rule}）；未写入任何内容",
                field="budget",
            )
        if rule == "按比例":
            for entity, fen in list(want.items()):
                share = fen * room // asked
                if share > 0:
                    want[entity] = share
                else:
                    del want[entity]
                    hold("预算不足（按比例后不足一分）")
            hold(f"预算不足，按比例核减（{room / asked:.2%}）", len(want))
            return
        left = room
        for entity, fen in sorted(want.items(), key=lambda item: (-item[1], item[0])):
            if fen <= left:
                left -= fen
            else:
                del want[entity]
                hold("预算不足（按金额排序未排上）")

    def _awards(self, c: Connection, policy_id: str, period: str) -> tuple[set[str], list[tuple]]:
        """Every entity holding an award of the key (policy, period), and (award id, entity, net
        fen, status) of the approved, unrevoked grant awards: two plain scans, no join per line."""
        approved = {
            int(i)
            for i in c.execute(
                select(t.batches.c.id).where(
                    t.batches.c.policy_id == policy_id,
                    t.batches.c.period == period,
                    t.batches.c.status == "approved",
                    t.batches.c.kind == "grant",
                )
            ).scalars()
        }
        rows = self._raw(
            c,
            "SELECT id, entity_id, amount_fen, status, batch_id FROM gr_lines"
            " WHERE policy_id = ? AND period = ? AND kind = 'award'",
            (policy_id, period),
        )
        if not rows:
            return set(), []
        reversed_by = dict(
            self._raw(
                c,
                "SELECT reverses, sum(amount_fen) FROM gr_lines WHERE kind = 'reversal'"
                " AND policy_id = ? AND period = ? AND status != ? GROUP BY reverses",
                (policy_id, period, REVOKED),
            )
        )
        awards = [
            (award, entity, fen + int(reversed_by.get(award, 0)), status)
            for award, entity, fen, status, batch in rows
            if status != REVOKED and batch in approved
        ]
        return {row[1] for row in rows}, awards

    def _raw(self, c: Connection, sql: str, params: tuple) -> list[tuple]:
        """A read at driver speed (plain tuples): the ledger scans up to millions of lines."""
        cursor = c.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql.replace("?", "%s") if self.postgres else sql, params)
            return cursor.fetchall()
        finally:
            cursor.close()

    def _reversals(
        self,
        awards: list[tuple],
        due_fen: Mapping[str, int],
        undecided: set[str],
        run_id: str | None,
        hold: Any,
    ) -> list[tuple[int, str, int, str, str]]:
        """Reversal lines for awards a newer run no longer supports (追回 when already paid)."""
        found = []
        for award, entity, net, status in awards:
            net = int(net)
            if net <= 0:
                continue
            if entity in undecided:
                hold("已兑现但本次匹配缺少数据：暂不追回")
                continue
            due = due_fen.get(entity, 0)
            if due >= net:
                continue
            why = (
                f"数据更正后不再符合条件，{'追回' if status == PAID else '冲销'} {format_money(to_yuan(net))}"
                if due == 0
                else f"数据更正后应兑现 {format_money(to_yuan(due))}，冲减 {format_money(to_yuan(net - due))}"
            )
            found.append((award, entity, due - net, f"run:{run_id}", why))
        return found

    def _insert_batch(
        self,
        c: Connection,
        policy: Policy,
        period: str,
        kind: str,
        by: Principal,
        *,
        run_id: str | None,
        as_of: date | None,
        eligible: int,
        lines: int,
        total: int,
        held: dict[str, int],
        notice_days: int = 0,
        status: str = "proposed",
        approved_by: str | None = None,
    ) -> int:
        now = _now()
        return int(
            c.execute(
                insert(t.batches)
                .values(
                    policy_id=policy.id,
                    period=period,
                    kind=kind,
                    delivery=policy.delivery,
                    policy_title=policy.title,
                    policy=_policy_snapshot(policy),
                    run_id=run_id,
                    as_of=as_of,
                    eligible=eligible,
                    lines=lines,
                    total_fen=total,
                    held=held,
                    status=status,
                    proposed_by=by.actor,
                    proposed_at=now,
                    approved_by=approved_by,
                    approved_at=now if approved_by else None,
                    notice_days=notice_days,
                )
                .returning(t.batches.c.id)
            ).scalar_one()
        )

    _LINE_COLUMNS = (
        "batch_id, policy_id, period, entity_id, kind, amount_fen, reverses, basis, status, reason"
    )

    def _bulk_lines(self, c: Connection, rows: list[tuple]) -> None:
        """Insert many lines at driver speed: executemany on SQLite, COPY on PostgreSQL."""
        if not rows:
            return
        if self.postgres:
            cursor = c.connection.driver_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY gr_lines ({self._LINE_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        c.exec_driver_sql(
            f"INSERT INTO gr_lines ({self._LINE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def _bulk_awards(
        self, c: Connection, batch_id: int, policy_id: str, period: str, want: Mapping[str, int]
    ) -> None:
        """The batch's award lines, 待确认, in key order within each amount, with no Python per row
        on SQLite: one INSERT … SELECT over a JSON array of entities (json_each, in C) per distinct
        amount (a JSON object entity → fen when amounts are many); COPY on PostgreSQL."""
        if not want:
            return
        if self.postgres:
            cursor = c.connection.driver_connection.cursor()  # type: ignore[union-attr]
            columns = "batch_id, policy_id, period, entity_id, kind, amount_fen, status"
            with cursor.copy(f"COPY gr_lines ({columns}) FROM STDIN") as copy:
                for entity in sorted(want):
                    copy.write_row(
                        (batch_id, policy_id, period, entity, "award", want[entity], PENDING)
                    )
            return
        head = "INSERT INTO gr_lines (batch_id, policy_id, period, entity_id, kind, amount_fen, status)"
        amounts = set(want.values())
        if len(amounts) > _FEW_AMOUNTS:
            payload = json.dumps(dict(sorted(want.items())), ensure_ascii=False)
            c.exec_driver_sql(
                f"{head} SELECT ?, ?, ?, key, 'award', value, ? FROM json_each(?) ORDER BY id",
                (batch_id, policy_id, period, PENDING, payload),
            )
            return
        groups: dict[int, list[str]] = {fen: [] for fen in sorted(amounts)}
        if len(groups) == 1:
            groups[amounts.pop()] = sorted(want)
        else:
            for entity in sorted(want):
                groups[want[entity]].append(entity)
        for fen, entities in groups.items():
            c.exec_driver_sql(
                f"{head} SELECT ?, ?, ?, value, 'award', ?, ? FROM json_each(?) ORDER BY id",
                (
                    batch_id,
                    policy_id,
                    period,
                    fen,
                    PENDING,
                    json.dumps(entities, ensure_ascii=False),
                ),
            )

    @contextmanager
    def _indexes_later(self, c: Connection, table: Table, adding: int) -> Iterator[None]:
        """Build `table`'s secondary indexes after a bulk load, inside the same transaction, when
        the load is most of the table (SQLite only: a sort-and-build beats a million B-tree
        inserts). The UNIQUE indexes are built again before the commit, so a duplicate fails
        the whole write as before; a crash rolls the DROP back with everything else."""
        if self.postgres or adding < _INDEXES_LATER_FROM:
            yield
            return
        held = c.exec_driver_sql(f"SELECT max(id) FROM {table.name}").scalar()
        if (held or 0) > adding:
            yield
            return
        found = c.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
            " AND sql IS NOT NULL ORDER BY name",
            (table.name,),
        ).all()
        for name, _sql in found:
            c.exec_driver_sql(f'DROP INDEX "{name}"')
        yield
        for _name, sql in found:
            c.exec_driver_sql(sql)

    def _event(
        self,
        c: Connection,
        batch_id: int | None,
        line_id: int | None,
        action: str,
        by: Principal,
        detail: str,
    ) -> None:
        c.execute(
            insert(t.events).values(
                batch_id=batch_id,
                line_id=line_id,
                action=action,
                actor=by.actor,
                at=_now(),
                detail=detail,
            )
        )

    # ------------------------------------------------------------------ approving

    def approve(self, batch_id: int, by: Principal, today: date | None = None) -> BatchView:
        """Approve a proposed batch: a reviewer who did not propose it, within the budget.

        Awards of 直接兑现 become 已确认 (意愿确认 wait for the entity), reversal lines take effect,
        and every entity in the batch gets a notice; all in one transaction.
        """
        by.require("grants.approve")
        today = today or date.today()
        with self._write() as c:
            batch = self._batch_row(c, batch_id, lock=True)
            if batch.status != "proposed":
                raise Conflict(
                    f"批次 {batch_id} 已于 {batch.approved_at:%Y-%m-%d %H:%M} 由 {batch.approved_by} "
                    "审批（或已撤回），不能重复审批",
                    field="batch_id",
                )
            if batch.proposed_by == by.actor:
                raise Forbidden(
                    f"不能审批本人提出的批次 {batch_id}，请由另一位审核员审批", field="batch_id"
                )
            budget = batch.policy.get("budget")
            if budget:
                used = int(
                    c.execute(
                        select(func.coalesce(func.sum(t.lines.c.amount_fen), 0))
                        .select_from(
                            _MONEY_FROM.join(t.batches, t.batches.c.id == t.lines.c.batch_id)
                        )
                        .where(
                            t.lines.c.policy_id == batch.policy_id,
                            t.lines.c.period == batch.period,
                            _LIVE_MONEY,
                            t.batches.c.status == "approved",
                        )
                    ).scalar_one()
                )
                limit = to_fen(Decimal(budget["amount"]))
                if used + batch.total_fen > limit:
                    raise Conflict(
                        f"批次 {batch_id} 合计 {format_money(to_yuan(batch.total_fen))}，加上已审批的 "
                        f"{format_money(to_yuan(used))} 超出预算 {format_money(Decimal(budget['amount']))}；"
                        "未审批",
                        field="budget",
                    )
            reversed_ = c.execute(
                text(
                    f"UPDATE {self._reversals_only} SET status = :s"
                    " WHERE kind = 'reversal' AND batch_id = :b"
                ),
                {"s": CONFIRMED, "b": batch_id},
            ).rowcount
            awards = batch.lines - reversed_
            if batch.delivery == DIRECT:
                awards = c.execute(
                    update(t.lines)
                    .where(t.lines.c.batch_id == batch_id, t.lines.c.kind == "award")
                    .values(status=CONFIRMED)
                ).rowcount
            self._revoke_spent_awards(c, batch_id)
            notice_until = today + timedelta(days=batch.notice_days) if batch.notice_days else None
            c.execute(
                update(t.batches)
                .where(t.batches.c.id == batch_id)
                .values(
                    status="approved",
                    approved_by=by.actor,
                    approved_at=_now(),
                    notice_until=notice_until,
                )
            )
            with self._indexes_later(c, t.notices, batch.lines):
                self._notify(c, batch, notice_until)
            self._event(c, batch_id, None, "approve", by, f"审批 {batch.lines} 行")
            # a proposed batch's lines were all 待确认 and had no objection: count from the updates
            counts = {CONFIRMED: reversed_ + awards if batch.delivery == DIRECT else reversed_}
            counts[PENDING] = batch.lines - counts[CONFIRMED]
            view = _batch_view(
                self._batch_row(c, batch_id), {k: n for k, n in counts.items() if n}, 0
            )
        return view

    @property
    def _reversals_only(self) -> str:
        """gr_lines read through the partial index of reversals on SQLite: a batch of a million
        awards has few reversals, and the batch index would walk every award to find them."""
        return "gr_lines" if self.postgres else "gr_lines INDEXED BY uq_gr_reversal"

    def _revoke_spent_awards(self, c: Connection, batch_id: int) -> None:
        """Unpaid awards whose reversals in this batch bring them to zero are 撤销 (nothing to pay)."""
        reversed_ = c.execute(
            text(
                f"SELECT r.reverses FROM {self._reversals_only.replace('gr_lines', 'gr_lines AS r')}"
                " JOIN gr_lines AS a ON a.id = r.reverses"
                " WHERE r.kind = 'reversal' AND r.batch_id = :b AND a.status != :paid"
            ),
            {"b": batch_id, "paid": PAID},
        ).scalars()
        targets = [award for award in list(reversed_) if self._net(c, award) <= 0]
        if targets:
            c.execute(
                update(t.lines)
                .where(t.lines.c.id.in_(targets))
                .values(status=REVOKED, reason="已冲正")
            )

    def _net(self, c: Connection, award: int) -> int:
        """An award's amount after its reversals; a 撤销 award is worth nothing."""
        return int(
            c.execute(
                select(func.coalesce(func.sum(t.lines.c.amount_fen), 0))
                .select_from(_MONEY_FROM)
                .where(
                    (t.lines.c.id == award)
                    | ((t.lines.c.reverses == award) & (t.lines.c.kind == "reversal")),
                    _LIVE_MONEY,
                )
            ).scalar_one()
        )

    def _notify(self, c: Connection, batch: Any, notice_until: date | None) -> None:
        """站内消息 and the SMS/e-mail outbox: one small row per line, the text kept once per batch
        (a million notices in one INSERT … SELECT)."""
        snapshot = batch.policy
        labels = "；".join(cond["label"] for cond in snapshot["conditions"])
        act = (
            "无需申请，资金将直接拨付至您单位登记的收款账户。"
            if batch.delivery == DIRECT
            else "请登录企业门户“免申即享”确认收款账户，确认后拨付。"
        )
        objection = (
            f"公示期至 {notice_until}，如有异议请在此前通过企业门户“免申即享”提出。"
            if notice_until
            else "如有疑问，请通过企业门户“免申即享”留言或拨打 12345。"
        )
        notice = {
            "title": f"【免申即享】{batch.policy_title}",
            "award": (
                f"您单位符合《{batch.policy_title}》（{snapshot['document']} {snapshot['clause']}）"
                f"的全部条件：{labels}。依据 {batch.as_of or ''} 的共享数据，{batch.period} 年度"
                f"拟兑现 {{amount}}。{act}{objection}"
            ),
            "reversal": (
                f"经数据更正或异议处理，您单位《{batch.policy_title}》{batch.period} 年度兑现金额"
                f"调减 {{amount}}。已拨付的款项将另行通知退回方式。{objection}"
            ),
        }
        c.execute(update(t.batches).where(t.batches.c.id == batch.id).values(notice=notice))
        c.execute(
            text(
                "INSERT INTO gr_notices (entity_id, batch_id, line_id, kind, amount_fen, created_at,"
                " gateway) SELECT entity_id, batch_id, id, kind, amount_fen, :now, '待发送'"
                " FROM gr_lines WHERE batch_id = :batch"
            ),
            {"now": _now(), "batch": batch.id},
        )

    def withdraw(self, batch_id: int, by: Principal, reason: str) -> BatchView:
        """Withdraw (proposer) or reject (reviewer) a batch not yet approved: its lines are 撤销."""
        if not (by.can("grants.propose") or by.can("grants.approve")):
            by.require("grants.approve")
        if not reason.strip():
            raise InvalidInput("撤回或退回批次须写明理由", field="reason")
        with self._write() as c:
            batch = self._batch_row(c, batch_id, lock=True)
            if batch.status != "proposed":
                raise Conflict(
                    f"批次 {batch_id} 已{_BATCH_LABELS[batch.status]}，不能撤回", field="batch_id"
                )
            if batch.proposed_by != by.actor and not by.can("grants.approve"):
                raise Forbidden(
                    f"批次 {batch_id} 由 {batch.proposed_by} 提出：只有提出人可以撤回，审核员可以退回",
                    field="batch_id",
                )
            # Never approved, never paid: its lines stop being awards (kind `void`, outside the
            # one-award-ever key), so the same entities can be proposed again in a corrected batch.
            c.execute(
                update(t.lines)
                .where(t.lines.c.batch_id == batch_id)
                .values(status=REVOKED, reason=reason, kind=VOID)
            )
            c.execute(
                update(t.batches).where(t.batches.c.id == batch_id).values(status="withdrawn")
            )
            self._event(c, batch_id, None, "withdraw", by, reason)
        return self.batch(batch_id)

    # ------------------------------------------------------------------ 意愿确认, objections

    def set_account(
        self, entity_id: str, payee: str, bank: str, account: str, by: Principal, source: str
    ) -> None:
        """Record where an entity is paid (收款账户): confirmed by the entity or imported."""
        account = account.replace(" ", "")
        if not payee.strip() or not bank.strip():
            raise InvalidInput("收款单位与开户行不能为空", field="bank")
        if not re.fullmatch(r"[0-9]{8,32}", account):
            raise InvalidInput(f"银行账号应为 8–32 位数字，实为 {account!r}", field="account")
        with self._write() as c:
            self._upsert_account(c, entity_id, payee.strip(), bank.strip(), account, by, source)

    def import_accounts(self, rows: Sequence[Mapping[str, str]], by: Principal, source: str) -> int:
        """Import a payee register (统一社会信用代码, 收款单位, 开户行, 账号); all or nothing."""
        by.require("grants.export")
        checked = []
        for number, row in enumerate(rows, start=2):
            entity, payee = (
                (row.get("统一社会信用代码") or "").strip(),
                (row.get("收款单位") or "").strip(),
            )
            bank, account = (
                (row.get("开户行") or "").strip(),
                (row.get("账号") or "").replace(" ", ""),
            )
            if not entity or not payee or not bank or not re.fullmatch(r"[0-9]{8,32}", account):
                raise InvalidInput(
                    f"第 {number} 行不完整或账号不是 8–32 位数字（统一社会信用代码、收款单位、开户行、账号）；"
                    "未导入任何账户",
                    field=f"row {number}",
                )
            checked.append((entity, payee, bank, account))
        with self._write() as c:
            for entity, payee, bank, account in checked:
                self._upsert_account(c, entity, payee, bank, account, by, source)
        return len(checked)

    def _upsert_account(
        self,
        c: Connection,
        entity: str,
        payee: str,
        bank: str,
        account: str,
        by: Principal,
        source: str,
    ) -> None:
        values = dict(
            payee=payee,
            bank=bank,
            account=account,
            source=source,
            updated_by=by.actor,
            updated_at=_now(),
        )
        done = c.execute(
            update(t.accounts).where(t.accounts.c.entity_id == entity).values(**values)
        )
        if done.rowcount == 0:
            c.execute(insert(t.accounts).values(entity_id=entity, **values))

    def confirm(
        self, line_id: int, by: Principal, *, payee: str, bank: str, account: str
    ) -> LineView:
        """意愿确认: the entity (or staff on its behalf) confirms with its bank account; → 已确认."""
        with self._write() as c:
            line = self._line_row(c, line_id)
            self._check_speaks_for(by, line.entity_id)
            batch = self._batch_row(c, line.batch_id)
            if batch.delivery != CONFIRM or batch.status != "approved":
                raise Conflict(
                    f"第 {line_id} 行不是已审批的意愿确认兑现，无需确认", field="line_id"
                )
            if line.status != PENDING:
                raise Conflict(f"第 {line_id} 行状态为 {line.status}，不能再确认", field="line_id")
        self.set_account(line.entity_id, payee, bank, account, by, "意愿确认")
        with self._write() as c:
            c.execute(
                update(t.lines)
                .where(t.lines.c.id == line_id, t.lines.c.status == PENDING)
                .values(status=CONFIRMED)
            )
            self._event(c, line.batch_id, line_id, "confirm", by, "确认收款账户")
        return self.line(line_id)

    def decline(self, line_id: int, by: Principal, reason: str = "") -> LineView:
        """意愿确认, answered no (谢绝享受): the line is 撤销 and counts no money; it stays an award,
        so the same policy and period are not offered to this entity again."""
        reason = reason.strip()
        if len(reason) > 2000:
            raise InvalidInput("说明不能超过 2000 字", field="reason")
        why = "本单位谢绝享受" + (f"：{reason}" if reason else "")
        with self._write() as c:
            line = self._line_row(c, line_id)
            self._check_speaks_for(by, line.entity_id)
            batch = self._batch_row(c, line.batch_id)
            if batch.delivery != CONFIRM or batch.status != "approved" or line.kind != "award":
                raise Conflict(
                    f"第 {line_id} 行不是已审批的意愿确认兑现，无需答复", field="line_id"
                )
            done = c.execute(
                update(t.lines)
                .where(t.lines.c.id == line_id, t.lines.c.status == PENDING)
                .values(status=REVOKED, reason=why)
            )
            if done.rowcount == 0:
                raise Conflict(f"第 {line_id} 行状态为 {line.status}，不能再谢绝", field="line_id")
            self._event(c, line.batch_id, line_id, "decline", by, why)
        return self.line(line_id)

    def _check_speaks_for(self, by: Principal, entity_id: str) -> None:
        if by.has(Role.ENTERPRISE) or by.has(Role.CITIZEN):
            if by.subject != entity_id:
                raise Forbidden("只能对本单位的兑现提出异议或确认", field="line_id")
            return
        if not (by.can("grants.object") or by.can("grants.approve")):
            by.require("grants.object")

    def object(
        self, line_id: int, by: Principal, reason: str, today: date | None = None
    ) -> ObjectionView:
        """File an objection (异议) to a line during its batch's public notice."""
        by.require("grants.object")
        today = today or date.today()
        if not reason.strip():
            raise InvalidInput("异议须写明理由", field="text")
        with self._write() as c:
            line = self._line_row(c, line_id)
            self._check_speaks_for(by, line.entity_id)
            batch = self._batch_row(c, line.batch_id)
            if batch.status != "approved" or batch.notice_until is None:
                raise Conflict(
                    f"批次 {batch.id} 未进行公示，不受理异议；如有疑问请留言或拨打 12345",
                    field="line_id",
                )
            if today > batch.notice_until:
                raise Conflict(
                    f"批次 {batch.id} 的公示期已于 {batch.notice_until} 结束，异议不再受理",
                    field="line_id",
                )
            if line.kind != "award" or line.status == REVOKED:
                raise Conflict(f"第 {line_id} 行已撤销或不是兑现行", field="line_id")
            objection_id = c.execute(
                insert(t.objections)
                .values(
                    line_id=line_id,
                    entity_id=line.entity_id,
                    text=reason.strip(),
                    filed_by=by.actor,
                    filed_at=_now(),
                    status="待处理",
                )
                .returning(t.objections.c.id)
            ).scalar_one()
            self._event(c, batch.id, line_id, "object", by, reason.strip())
        return self.objection(int(objection_id))

    def decide(
        self,
        objection_id: int,
        by: Principal,
        *,
        uphold: bool,
        note: str,
        corrected: Decimal | None = None,
    ) -> ObjectionView:
        """A reviewer decides an objection; upheld, a reversal line removes or corrects the award."""
        by.require("grants.approve")
        if not note.strip():
            raise InvalidInput("处理异议须写明意见", field="note")
        with self._write() as c:
            row = c.execute(select(t.objections).where(t.objections.c.id == objection_id)).first()
            if row is None:
                raise NotFound(f"没有编号为 {objection_id} 的异议", field="objection_id")
            if row.status != "待处理":
                raise Conflict(f"异议 {objection_id} 已处理（{row.status}）", field="objection_id")
            line = self._line_row(c, row.line_id)
            net = self._net(c, line.id)
            due = to_fen(corrected) if corrected is not None else 0
            if uphold and not 0 <= due < net:
                raise InvalidInput(
                    f"更正后的金额应在 0 到现有金额 {format_money(to_yuan(net))} 之间（不含）",
                    field="corrected",
                )
            if uphold:
                if line.status == PAID:
                    raise Conflict(f"第 {line.id} 行已拨付，请按数据更正追回", field="objection_id")
                why = f"异议 {objection_id} 成立：{note.strip()}"
                c.execute(
                    insert(t.lines).values(
                        batch_id=line.batch_id,
                        policy_id=line.policy_id,
                        period=line.period,
                        entity_id=line.entity_id,
                        kind="reversal",
                        amount_fen=due - net,
                        reverses=line.id,
                        basis=f"objection:{objection_id}",
                        status=CONFIRMED,
                        reason=why,
                    )
                )
                if due == 0:
                    c.execute(
                        update(t.lines)
                        .where(t.lines.c.id == line.id)
                        .values(status=REVOKED, reason=why)
                    )
            c.execute(
                update(t.objections)
                .where(t.objections.c.id == objection_id)
                .values(
                    status="成立" if uphold else "不成立",
                    decided_by=by.actor,
                    decided_at=_now(),
                    decision=note.strip(),
                    corrected_fen=due if uphold else None,
                )
            )
            self._event(
                c,
                line.batch_id,
                line.id,
                "decide",
                by,
                f"异议 {objection_id}: {'成立' if uphold else '不成立'}",
            )
        return self.objection(objection_id)

    # ------------------------------------------------------------------ 拨付

    def export(
        self,
        batch_id: int,
        by: Principal,
        path: Path | None = None,
        *,
        hold_missing: bool = False,
        today: date | None = None,
    ) -> ExportResult | None:
        """The disbursement list (拨付清单) of a batch's confirmed, unexported lines, as CSV.

        A line without a bank account refuses the whole export (nothing written) unless
        `hold_missing`, which leaves those lines out, counted under their reason. None when there
        is nothing left to export.
        """
        by.require("grants.export")
        today = today or date.today()
        with self._write() as c:
            batch = self._batch_row(c, batch_id, lock=True)
            if batch.status != "approved":
                raise Conflict(f"批次 {batch_id} 尚未审批，不能导出拨付清单", field="batch_id")
            if batch.notice_until is not None and today <= batch.notice_until:
                raise Conflict(
                    f"批次 {batch_id} 公示期至 {batch.notice_until}，公示期满后才能导出",
                    field="batch_id",
                )
            pending = c.execute(
                select(func.count())
                .select_from(t.objections.join(t.lines, t.lines.c.id == t.objections.c.line_id))
                .where(t.lines.c.batch_id == batch_id, t.objections.c.status == "待处理")
            ).scalar_one()
            if pending:
                raise Conflict(
                    f"批次 {batch_id} 还有 {pending} 件异议未处理，处理后再导出", field="batch_id"
                )
            r = t.lines.alias("r")
            net = t.lines.c.amount_fen + func.coalesce(func.sum(r.c.amount_fen), 0)
            rows = c.execute(
                select(
                    t.lines.c.id,
                    t.lines.c.entity_id,
                    net.label("net"),
                    t.accounts.c.payee,
                    t.accounts.c.bank,
                    t.accounts.c.account,
                )
                .select_from(
                    t.lines.outerjoin(
                        r,
                        and_(
                            r.c.reverses == t.lines.c.id,
                            r.c.kind == "reversal",
                            r.c.status != REVOKED,
                        ),
                    ).outerjoin(t.accounts, t.accounts.c.entity_id == t.lines.c.entity_id)
                )
                .where(
                    t.lines.c.batch_id == batch_id,
                    t.lines.c.kind == "award",
                    t.lines.c.status == CONFIRMED,
                    t.lines.c.export_id.is_(None),
                )
                .group_by(
                    t.lines.c.id,
                    t.lines.c.entity_id,
                    t.lines.c.amount_fen,
                    t.accounts.c.payee,
                    t.accounts.c.bank,
                    t.accounts.c.account,
                )
                .order_by(t.lines.c.entity_id)
            ).all()
            rows = [row for row in rows if row.net > 0]
            missing = [row.entity_id for row in rows if row.account is None]
            held: dict[str, int] = {}
            if missing and not hold_missing:
                shown = "、".join(missing[:10]) + (" 等" if len(missing) > 10 else "")
                raise InvalidInput(
                    f"{len(missing)} 个主体缺少收款账户，未导出：{shown}。请导入收款账户"
                    "（zhixiang grants accounts），或用 --hold-missing 暂缓这些行、先导出其余各行",
                    field="account",
                )
            if missing:
                held["缺少收款账户（暂缓拨付）"] = len(missing)
            payable = [row for row in rows if row.account is not None]
            if not payable:
                return None
            total = sum(int(row.net) for row in payable)
            export_id = int(
                c.execute(
                    insert(t.exports)
                    .values(
                        batch_id=batch_id,
                        exported_by=by.actor,
                        exported_at=_now(),
                        lines=len(payable),
                        total_fen=total,
                        held=held,
                    )
                    .returning(t.exports.c.id)
                ).scalar_one()
            )
            ids = [row.id for row in payable]
            for start in range(0, len(ids), 10_000):
                c.execute(
                    update(t.lines)
                    .where(t.lines.c.id.in_(ids[start : start + 10_000]))
                    .values(export_id=export_id)
                )
            self._event(c, batch_id, None, "export", by, f"拨付清单 {export_id}: {len(payable)} 行")
        purpose = f"{batch.policy_title}（{batch.period}年度免申即享）"
        out = [
            dict(
                zip(
                    BANK_COLUMNS,
                    (r.payee, r.entity_id, r.bank, r.account, str(to_yuan(int(r.net))), purpose),
                    strict=True,
                )
            )
            for r in payable
        ]
        if path is not None:
            write_bank_file(path, out)
        return ExportResult(export_id, batch_id, len(payable), to_yuan(total), held, out)

    def mark_paid(
        self, export_id: int, by: Principal, returned: Iterable[str] = ()
    ) -> dict[str, int]:
        """Record the bank's result of an export: every line 已拨付, except those it sent back (退回)."""
        by.require("grants.export")
        returned = set(returned)
        with self._write() as c:
            row = c.execute(select(t.exports).where(t.exports.c.id == export_id)).first()
            if row is None:
                raise NotFound(f"没有编号为 {export_id} 的拨付清单", field="export_id")
            if row.paid_at is not None:
                raise Conflict(
                    f"拨付清单 {export_id} 已于 {row.paid_at:%Y-%m-%d} 登记拨付结果",
                    field="export_id",
                )
            entities = set(
                c.execute(
                    select(t.lines.c.entity_id).where(t.lines.c.export_id == export_id)
                ).scalars()
            )
            unknown = returned - entities
            if unknown:
                raise InvalidInput(
                    f"退回名单中有不在该清单中的主体: {'、'.join(sorted(unknown))}",
                    field="returned",
                )
            if returned:
                c.execute(
                    update(t.lines)
                    .where(t.lines.c.export_id == export_id, t.lines.c.entity_id.in_(returned))
                    .values(status=RETURNED, reason="银行退回")
                )
            c.execute(
                update(t.lines)
                .where(t.lines.c.export_id == export_id, t.lines.c.status == CONFIRMED)
                .values(status=PAID)
            )
            c.execute(
                update(t.exports)
                .where(t.exports.c.id == export_id)
                .values(paid_by=by.actor, paid_at=_now())
            )
            self._event(
                c, row.batch_id, None, "paid", by, f"拨付清单 {export_id}，退回 {len(returned)}"
            )
        return {PAID: len(entities) - len(returned), RETURNED: len(returned)}

    # ------------------------------------------------------------------ 智能快审 → ledger

    def record_award(
        self,
        policy: Policy,
        period: str,
        entity_id: str,
        amount: Decimal,
        by: Principal,
        *,
        application_id: str,
        automatic: bool = False,
    ) -> LineView:
        """Enter an approved application as a payable line, keyed by (policy, period, entity).

        Idempotent: the same award again returns the line already there; a different amount for
        the same key, a budget overrun, the annual cap or an exclusivity group refuse it.
        """
        check_period(period)
        if not automatic:
            by.require("grants.approve")
        fen = to_fen(amount)
        if fen <= 0:
            raise InvalidInput("兑现金额应为正数", field="amount")
        with self._write() as c:
            existing = c.execute(
                select(t.lines).where(
                    t.lines.c.policy_id == policy.id,
                    t.lines.c.period == period,
                    t.lines.c.entity_id == entity_id,
                    t.lines.c.kind == "award",
                )
            ).first()
            if existing is not None:
                if existing.status == REVOKED:
                    raise Conflict(
                        f"{entity_id} 在政策 {policy.id} {period} 年度的兑现（第 {existing.id} 行）"
                        f"已撤销：{existing.reason or ''}；不重复入账",
                        field="entity_id",
                    )
                if existing.amount_fen != fen:
                    raise Conflict(
                        f"{entity_id} 在政策 {policy.id} {period} 年度已有兑现（第 {existing.id} 行，"
                        f"{format_money(to_yuan(existing.amount_fen))}），不重复入账",
                        field="entity_id",
                    )
                return _line_view(existing)
            if policy.exclusivity_group:
                taken = c.execute(
                    select(t.batches.c.policy_title)
                    .select_from(t.lines.join(t.batches, t.batches.c.id == t.lines.c.batch_id))
                    .where(
                        t.lines.c.period == period,
                        t.lines.c.entity_id == entity_id,
                        t.lines.c.kind == "award",
                        t.lines.c.status != REVOKED,
                        t.batches.c.policy["exclusivity_group"].as_string()
                        == policy.exclusivity_group,
                    )
                ).first()
                if taken is not None:
                    raise Conflict(
                        f"{entity_id} 已享受同一互斥组“{policy.exclusivity_group}”的《{taken.policy_title}》",
                        field="entity_id",
                    )
            if policy.annual_cap is not None:
                received = int(
                    c.execute(
                        select(func.coalesce(func.sum(t.lines.c.amount_fen), 0))
                        .select_from(_MONEY_FROM)
                        .where(
                            t.lines.c.period == period,
                            t.lines.c.entity_id == entity_id,
                            _LIVE_MONEY,
                        )
                    ).scalar_one()
                )
                room = to_fen(policy.annual_cap) - received
                if room <= 0:
                    raise Conflict(
                        f"{entity_id} 已达年度奖励总额上限 {format_money(policy.annual_cap)}"
                    )
                fen = min(fen, room)
            if policy.budget is not None:
                used = int(
                    c.execute(
                        select(func.coalesce(func.sum(t.lines.c.amount_fen), 0))
                        .select_from(_MONEY_FROM)
                        .where(
                            t.lines.c.policy_id == policy.id,
                            t.lines.c.period == period,
                            _LIVE_MONEY,
                        )
                    ).scalar_one()
                )
                if used + fen > to_fen(policy.budget.amount):
                    raise Conflict(
                        f"政策 {policy.id} {period} 年度预算余额不足，未入账", field="budget"
                    )
            batch_id = self._insert_batch(
                c,
                policy,
                period,
                "auto" if automatic else "application",
                by,
                run_id=application_id,
                as_of=date.today(),
                eligible=1,
                lines=1,
                total=fen,
                held={},
                status="approved",
                approved_by=by.actor,
            )
            line_id = c.execute(
                insert(t.lines)
                .values(
                    batch_id=batch_id,
                    policy_id=policy.id,
                    period=period,
                    entity_id=entity_id,
                    kind="award",
                    amount_fen=fen,
                    status=CONFIRMED,
                    reason=f"申请 {application_id} 审核通过",
                )
                .returning(t.lines.c.id)
            ).scalar_one()
            self._event(c, batch_id, int(line_id), "record_award", by, f"申请 {application_id}")
        return self.line(int(line_id))

    # ------------------------------------------------------------------ reading

    def _batch_row(self, c: Connection, batch_id: int, lock: bool = False) -> Any:
        query = select(t.batches).where(t.batches.c.id == batch_id)
        row = c.execute(query.with_for_update() if lock and self.postgres else query).first()
        if row is None:
            raise NotFound(f"没有编号为 {batch_id} 的兑现批次", field="batch_id")
        return row

    def _line_row(self, c: Connection, line_id: int) -> Any:
        row = c.execute(select(t.lines).where(t.lines.c.id == line_id)).first()
        if row is None:
            raise NotFound(f"台账中没有第 {line_id} 行", field="line_id")
        return row

    def batch(self, batch_id: int) -> BatchView:
        with self._reader.connect() as c:
            row = self._batch_row(c, batch_id)
            counts: dict[str, int] = dict(
                c.execute(
                    select(t.lines.c.status, func.count())
                    .where(t.lines.c.batch_id == batch_id)
                    .group_by(t.lines.c.status)
                ).all()
            )
            objections = c.execute(
                select(func.count())
                .select_from(t.objections.join(t.lines, t.lines.c.id == t.objections.c.line_id))
                .where(t.lines.c.batch_id == batch_id)
            ).scalar_one()
        return _batch_view(row, counts, int(objections))

    def batches(
        self, policy_id: str | None = None, period: str | None = None, limit: int = 100
    ) -> list[BatchView]:
        query = select(t.batches.c.id).order_by(t.batches.c.id.desc()).limit(limit)
        if policy_id:
            query = query.where(t.batches.c.policy_id == policy_id)
        if period:
            query = query.where(t.batches.c.period == period)
        with self._reader.connect() as c:
            ids = list(c.execute(query).scalars())
        return [self.batch(i) for i in ids]

    def line(self, line_id: int) -> LineView:
        with self._reader.connect() as c:
            row = self._line_row(c, line_id)
            net = self._net(c, line_id) if row.kind == "award" else None
        return _line_view(row, net)

    def lines(
        self,
        batch_id: int | None = None,
        *,
        entity_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[LineView]:
        query = select(t.lines).order_by(t.lines.c.id).limit(limit).offset(offset)
        if batch_id is not None:
            query = query.where(t.lines.c.batch_id == batch_id)
        if entity_id is not None:
            query = query.where(t.lines.c.entity_id == entity_id)
        if status is not None:
            query = query.where(t.lines.c.status == status)
        with self._reader.connect() as c:
            return [_line_view(row) for row in c.execute(query)]

    def find_line(self, policy_id: str, period: str, entity_id: str) -> LineView:
        """The payable award of a key (policy, period, entity)."""
        with self._reader.connect() as c:
            row = c.execute(
                select(t.lines.c.id).where(
                    t.lines.c.policy_id == policy_id,
                    t.lines.c.period == period,
                    t.lines.c.entity_id == entity_id,
                    t.lines.c.kind == "award",
                    t.lines.c.status != REVOKED,
                )
            ).first()
        if row is None:
            raise NotFound(
                f"{entity_id} 在政策 {policy_id} {period} 年度没有兑现行", field="entity_id"
            )
        return self.line(int(row.id))

    def objection(self, objection_id: int) -> ObjectionView:
        with self._reader.connect() as c:
            row = c.execute(select(t.objections).where(t.objections.c.id == objection_id)).first()
        if row is None:
            raise NotFound(f"没有编号为 {objection_id} 的异议", field="objection_id")
        return ObjectionView(
            row.id,
            row.line_id,
            row.entity_id,
            row.text,
            row.filed_by,
            row.filed_at,
            row.status,
            row.decided_by,
            row.decision,
        )

    def history(self, batch_id: int) -> list[EventView]:
        """What happened to a batch and its lines, oldest first: who proposed, approved, objected…"""
        with self._reader.connect() as c:
            self._batch_row(c, batch_id)
            rows = c.execute(
                select(t.events).where(t.events.c.batch_id == batch_id).order_by(t.events.c.id)
            ).all()
        return [EventView(r.id, r.line_id, r.action, r.actor, r.at, r.detail) for r in rows]

    def exports(self, batch_id: int) -> list[ExportView]:
        """A batch's disbursement lists, oldest first, each with whether its payment is recorded."""
        with self._reader.connect() as c:
            rows = c.execute(
                select(t.exports).where(t.exports.c.batch_id == batch_id).order_by(t.exports.c.id)
            ).all()
        return [
            ExportView(
                r.id,
                r.batch_id,
                r.lines,
                to_yuan(r.total_fen),
                dict(r.held or {}),
                r.exported_by,
                r.exported_at,
                r.paid_by,
                r.paid_at,
            )
            for r in rows
        ]

    def objections(self, batch_id: int) -> list[ObjectionView]:
        with self._reader.connect() as c:
            ids = c.execute(
                select(t.objections.c.id)
                .join(t.lines, t.lines.c.id == t.objections.c.line_id)
                .where(t.lines.c.batch_id == batch_id)
                .order_by(t.objections.c.id)
            ).scalars()
            found = list(ids)
        return [self.objection(i) for i in found]

    def _notice_views(self, c: Connection, where: Any, order: Any, limit: int) -> list[NoticeView]:
        rows = c.execute(
            select(t.notices, t.batches.c.notice)
            .join(t.batches, t.batches.c.id == t.notices.c.batch_id)
            .where(where)
            .order_by(order)
            .limit(limit)
        ).all()
        return [
            NoticeView(
                r.id,
                r.entity_id,
                r.batch_id,
                r.line_id,
                r.notice["title"],
                r.notice[r.kind].format(amount=format_money(to_yuan(abs(r.amount_fen)))),
                r.created_at,
                r.read_at,
                r.gateway,
            )
            for r in rows
        ]

    def notices(self, entity_id: str, limit: int = 50) -> list[NoticeView]:
        """站内消息 of one entity, newest first."""
        with self._reader.connect() as c:
            return self._notice_views(
                c, t.notices.c.entity_id == entity_id, t.notices.c.id.desc(), limit
            )

    def outbox(self, limit: int = 100) -> list[NoticeView]:
        """Notices the SMS/e-mail gateway has not sent yet, oldest first (the gateway marks them
        sent with `mark_sent`)."""
        with self._reader.connect() as c:
            return self._notice_views(c, t.notices.c.gateway == "待发送", t.notices.c.id, limit)

    def mark_sent(self, notice_ids: Iterable[int]) -> int:
        ids = list(notice_ids)
        with self._write() as c:
            done = c.execute(
                update(t.notices)
                .where(t.notices.c.id.in_(ids), t.notices.c.gateway == "待发送")
                .values(gateway="已发送", sent_at=_now())
            )
        return int(done.rowcount)

    def counts(self) -> dict[str, int]:
        """Rows per ledger table (tests and the benchmark check that a rerun writes nothing)."""
        with self._reader.connect() as c:
            return {
                table.name: int(c.execute(select(func.count()).select_from(table)).scalar_one())
                for table in (
                    t.batches,
                    t.lines,
                    t.objections,
                    t.exports,
                    t.notices,
                    t.events,
                    t.accounts,
                )
            }

    def granted_by_entity(self, period: str | None = None) -> dict[str, Decimal]:
        """What each entity has been granted (元): its live awards in approved batches, net of their
        reversals — the money the 驾驶舱's map adds up by district."""
        if period is not None:
            check_period(period)
        b, ln = t.batches, t.lines
        where = [b.c.status == "approved", ln.c.kind.in_(("award", "reversal")), _LIVE_MONEY]
        if period:
            where.append(ln.c.period == period)
        with self._reader.connect() as c:
            rows = c.execute(
                select(ln.c.entity_id, func.sum(ln.c.amount_fen))
                .select_from(_MONEY_FROM.join(b, b.c.id == ln.c.batch_id))
                .where(*where)
                .group_by(ln.c.entity_id)
            ).all()
        return {str(entity): to_yuan(int(fen)) for entity, fen in rows if fen}

    def dashboard(
        self, period: str | None = None, policy_id: str | None = None
    ) -> list[DashboardRow]:
        """Per policy and period: eligible, granted without application, confirmed, paid, objections,
        applications decided automatically, and the median days from eligibility to money."""
        if period is not None:
            check_period(period)
        b, ln = t.batches, t.lines
        where = []
        if period:
            where.append(b.c.period == period)
        if policy_id:
            where.append(b.c.policy_id == policy_id)
        live_award = and_(ln.c.kind == "award", ln.c.status != REVOKED, b.c.status == "approved")
        with self._reader.connect() as c:
            keys = c.execute(
                select(
                    b.c.policy_id, b.c.period, func.max(b.c.policy_title), func.max(b.c.delivery)
                )
                .where(*where)
                .group_by(b.c.policy_id, b.c.period)
                .order_by(b.c.period, b.c.policy_id)
            ).all()
            rows = []
            for pid, per, title, delivery in keys:
                latest = c.execute(
                    select(b.c.eligible)
                    .where(
                        b.c.policy_id == pid,
                        b.c.period == per,
                        b.c.kind == "grant",
                        b.c.status != "withdrawn",
                    )
                    .order_by(b.c.id.desc())
                    .limit(1)
                ).scalar()
                by_kind = {
                    (kind, status): (int(n), int(fen or 0))
                    for kind, status, n, fen in c.execute(
                        select(b.c.kind, ln.c.status, func.count(), func.sum(ln.c.amount_fen))
                        .select_from(ln.join(b, b.c.id == ln.c.batch_id))
                        .where(ln.c.policy_id == pid, ln.c.period == per, live_award)
                        .group_by(b.c.kind, ln.c.status)
                    )
                }

                def count(
                    kinds: tuple[str, ...],
                    statuses: tuple[str, ...],
                    found: dict = by_kind,
                ) -> int:
                    return sum(found.get((k, s), (0, 0))[0] for k in kinds for s in statuses)

                live = (PENDING, CONFIRMED, PAID, RETURNED)
                objections: dict[str, int] = dict(
                    c.execute(
                        select(t.objections.c.status, func.count())
                        .join(ln, ln.c.id == t.objections.c.line_id)
                        .where(ln.c.policy_id == pid, ln.c.period == per)
                        .group_by(t.objections.c.status)
                    ).all()
                )
                clawed = c.execute(
                    select(func.count()).where(
                        ln.c.policy_id == pid,
                        ln.c.period == per,
                        ln.c.kind == "reversal",
                        ln.c.basis.like("run:%"),
                    )
                ).scalar_one()
                waits = c.execute(
                    select(b.c.proposed_at, t.exports.c.paid_at, func.count())
                    .select_from(
                        ln.join(b, b.c.id == ln.c.batch_id).join(
                            t.exports, t.exports.c.id == ln.c.export_id
                        )
                    )
                    .where(ln.c.policy_id == pid, ln.c.period == per, ln.c.status == PAID)
                    .group_by(b.c.proposed_at, t.exports.c.paid_at)
                ).all()
                days = [
                    (paid - proposed).total_seconds() / 86400
                    for proposed, paid, n in waits
                    for _ in range(min(int(n), 10_000))
                ]
                paid_amount = sum(
                    by_kind.get((k, PAID), (0, 0))[1] for k in ("grant", "application", "auto")
                )
                rows.append(
                    DashboardRow(
                        policy_id=pid,
                        policy_title=title,
                        period=per,
                        delivery=delivery,
                        eligible=int(latest or 0),
                        granted_without_application=count(("grant",), live),
                        confirmed=count(("grant", "application", "auto"), (CONFIRMED, PAID)),
                        paid=count(("grant", "application", "auto"), (PAID,)),
                        paid_amount=to_yuan(paid_amount),
                        clawed_back=int(clawed),
                        objections=sum(int(n) for n in objections.values()),
                        objections_upheld=int(objections.get("成立", 0)),
                        applications=count(("application", "auto"), live),
                        auto_decided_applications=count(("auto",), live),
                        median_days_to_money=round(statistics.median(days), 2) if days else None,
                    )
                )
        return rows


class _Writing:
    """One write transaction; on PostgreSQL it first queues behind the ledger's advisory lock."""

    def __init__(self, ledger: GrantLedger) -> None:
        self.ledger = ledger

    def __enter__(self) -> Connection:
        self._context = self.ledger.engine.begin()
        connection = self._context.__enter__()
        if self.ledger.postgres:
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_WRITE_LOCK})"))
        return connection

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)


_BATCH_LABELS = {"proposed": "待审批", "approved": "审批", "withdrawn": "撤回"}


def _batch_view(row: Any, counts: dict[str, int], objections: int) -> BatchView:
    return BatchView(
        id=row.id,
        policy_id=row.policy_id,
        policy_title=row.policy_title,
        period=row.period,
        kind=row.kind,
        delivery=row.delivery,
        status=row.status,
        run_id=row.run_id,
        as_of=row.as_of,
        eligible=row.eligible,
        lines=row.lines,
        total=to_yuan(row.total_fen),
        held=dict(row.held or {}),
        proposed_by=row.proposed_by,
        proposed_at=row.proposed_at,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        notice_days=row.notice_days,
        notice_until=row.notice_until,
        by_status={k: int(v) for k, v in counts.items()},
        objections=objections,
    )


def _line_view(row: Any, net: int | None = None) -> LineView:
    return LineView(
        id=row.id,
        batch_id=row.batch_id,
        policy_id=row.policy_id,
        period=row.period,
        entity_id=row.entity_id,
        kind=row.kind,
        amount=to_yuan(row.amount_fen),
        status=row.status,
        reason=row.reason,
        reverses=row.reverses,
        export_id=row.export_id,
        net=None if net is None else to_yuan(net),
    )


def write_bank_file(path: Path, rows: list[dict[str, str]]) -> None:
    """The bank-file layout: UTF-8 with BOM (Excel opens it as Chinese), written then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=BANK_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(path)


def open_ledger(url: str | None = None) -> GrantLedger:
    """The configured ledger (`Settings.grants_db`), migrated."""
    from zhixiang.config import load_settings

    ledger = GrantLedger(url or load_settings().grants_db)
    ledger.migrate()
    return ledger
