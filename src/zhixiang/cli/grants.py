"""`zhixiang grants …`: 免申即享 from the command line — propose, approve, object, export, mark paid.

Whoever runs these is the server's operator (`zhixiang.access.operator`) unless `--as 用户名`
names an account: the command then acts with that account's roles, so a batch proposed by one
person is approved by another (nobody approves their own batch). Nothing heavy is imported until a
command runs.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from zhixiang.cli._console import console

if TYPE_CHECKING:
    from zhixiang.access import Principal
    from zhixiang.grants import BatchView, GrantLedger, Proposal

grants_app = typer.Typer(
    help="免申即享：从匹配结果提出兑现批次，另一人审批，公示与异议，导出拨付清单，登记拨付。",
    no_args_is_help=True,
)
T = TypeVar("T")
As = Annotated[
    str | None,
    typer.Option("--as", help="以该账号的身份与角色操作（默认：服务器操作员本人）"),
]
Period = Annotated[str, typer.Option("--period", "-p", help="年度，如 2026")]

_BATCH_STATUS = {"proposed": "待审批", "approved": "已审批", "withdrawn": "已撤回"}


def _run(action: Callable[[], T]) -> T:
    """Run a ledger call; a refusal prints its message and exits with its code, nothing changed."""
    from zhixiang.errors import ZhixiangError

    try:
        return action()
    except ZhixiangError as exc:
        where = f"[{exc.field}] " if exc.field else ""
        console.print(f"[red]错误:[/red] {escape(where + exc.message)}")
        raise typer.Exit(exc.exit_code) from None


def _who(username: str | None) -> Principal:
    from zhixiang.access import Principal, PrincipalKind, open_access, operator

    if username is None:
        return operator(getpass.getuser())
    user = _run(lambda: open_access().get_user(username))
    if user.disabled:
        console.print(f"[red]错误:[/red] 账号 {username} 已停用")
        raise typer.Exit(77)
    return Principal(
        PrincipalKind.USER,
        user.username,
        user.display_name,
        frozenset(user.roles),
        user.department,
        user.subject,
    )


def _ledger() -> GrantLedger:
    from zhixiang.grants import open_ledger

    return _run(open_ledger)


def _print_batch(batch: BatchView) -> None:
    console.print(
        f"批次 {batch.id}｜{batch.policy_title}（{batch.policy_id}）{batch.period} 年度｜"
        f"{batch.delivery}｜{_BATCH_STATUS.get(batch.status, batch.status)}",
        highlight=False,
    )
    console.print(
        f"  {batch.lines:,} 行，合计 {batch.total} 元；匹配批次 {batch.run_id or '—'}（{batch.as_of or '—'}），"
        f"符合条件 {batch.eligible:,} 家",
        highlight=False,
    )
    console.print(
        f"  提出: {batch.proposed_by} {batch.proposed_at:%Y-%m-%d %H:%M}；审批: "
        f"{batch.approved_by or '—'}"
        + (f"；公示至 {batch.notice_until}" if batch.notice_until else "")
        + f"；异议 {batch.objections} 件",
        highlight=False,
    )
    if batch.by_status:
        console.print(
            "  各状态: " + "，".join(f"{k} {v:,}" for k, v in sorted(batch.by_status.items())),
            highlight=False,
        )
    for reason, n in batch.held.items():
        console.print(f"  未入批次: {reason} {n:,} 家", highlight=False)


def print_proposal(proposal: Proposal, policy_id: str) -> None:
    if proposal.batch is None:
        console.print(f"{policy_id}: 与台账相比没有变化，未写入任何内容", highlight=False)
        for reason, n in proposal.held.items():
            console.print(f"  {reason} {n:,} 家", highlight=False)
        return
    _print_batch(proposal.batch)
    console.print(
        f"  新兑现 {proposal.awards:,} 行，冲正/追回 {proposal.reversals:,} 行；"
        f"待另一位审核员审批: zhixiang grants approve {proposal.batch.id} --as <审核员>",
        highlight=False,
    )


@grants_app.command("propose")
def propose(
    policy_id: Annotated[str, typer.Argument(help="政策编号，如 specialized-sme-award")],
    period: Period,
    run_id: Annotated[str | None, typer.Option("--run", help="匹配批次（默认当前批次）")] = None,
    notice_days: Annotated[
        int, typer.Option("--notice-days", min=0, max=60, help="审批后公示天数（0 为不公示）")
    ] = 0,
    as_user: As = None,
) -> None:
    """提出兑现批次：当前匹配批次中符合条件、台账里还没有的主体，按互斥组、年度上限、预算核定金额。"""
    from zhixiang.cli.rules import _load
    from zhixiang.config import load_settings
    from zhixiang.grants import propose_from_run

    settings = load_settings()
    policies = _load(None).policies
    by = _who(as_user)
    ledger = _ledger()
    proposal = _run(
        lambda: propose_from_run(
            ledger,
            policies,
            policy_id,
            period,
            by,
            results_dir=settings.results_dir,
            run_id=run_id,
            notice_days=notice_days,
        )
    )
    print_proposal(proposal, policy_id)


@grants_app.command("approve")
def approve(batch_id: Annotated[int, typer.Argument(help="批次编号")], as_user: As = None) -> None:
    """审批批次（审核员；不能审批本人提出的批次）：直接兑现的行转为已确认，并向每个主体发通知。"""
    by = _who(as_user)
    batch = _run(lambda: _ledger().approve(batch_id, by))
    _print_batch(batch)


@grants_app.command("withdraw")
def withdraw(
    batch_id: Annotated[int, typer.Argument(help="批次编号")],
    reason: Annotated[str, typer.Option("--reason", help="撤回或退回的理由")],
    as_user: As = None,
) -> None:
    """撤回（提出人）或退回（审核员）尚未审批的批次，其各行撤销。"""
    by = _who(as_user)
    _print_batch(_run(lambda: _ledger().withdraw(batch_id, by, reason)))


@grants_app.command("object")
def object_(
    line_id: Annotated[int, typer.Argument(help="台账行号")],
    reason: Annotated[str, typer.Option("--reason", help="异议理由")],
    as_user: As = None,
) -> None:
    """公示期内对一行提出异议（企业账号仅本单位）。"""
    by = _who(as_user)
    found = _run(lambda: _ledger().object(line_id, by, reason))
    console.print(
        f"已登记异议 {found.id}（第 {found.line_id} 行，{found.entity_id}），待审核员处理"
    )


@grants_app.command("decide")
def decide(
    objection_id: Annotated[int, typer.Argument(help="异议编号")],
    note: Annotated[str, typer.Option("--note", help="处理意见")],
    uphold: Annotated[
        bool, typer.Option("--uphold/--reject", help="异议成立（--uphold）或不成立（--reject）")
    ],
    amount: Annotated[
        str | None,
        typer.Option("--amount", help="成立时更正后的金额，如 10万元；不给则该行撤销"),
    ] = None,
    as_user: As = None,
) -> None:
    """处理异议（审核员）：成立则追加冲正行（撤销或更正金额），不成立则原样兑现。"""
    by = _who(as_user)
    from zhixiang.grants import parse_amount

    corrected = _run(lambda: parse_amount(amount)) if amount else None
    found = _run(
        lambda: _ledger().decide(objection_id, by, uphold=uphold, note=note, corrected=corrected)
    )
    console.print(f"异议 {found.id}: {found.status}（{found.decision}）")


@grants_app.command("confirm")
def confirm(
    line_id: Annotated[int, typer.Argument(help="台账行号")],
    payee: Annotated[str, typer.Option("--payee", help="收款单位")],
    bank: Annotated[str, typer.Option("--bank", help="开户行")],
    account: Annotated[str, typer.Option("--account", help="账号")],
    as_user: As = None,
) -> None:
    """意愿确认：主体确认收款账户后，该行转为已确认。"""
    by = _who(as_user)
    line = _run(lambda: _ledger().confirm(line_id, by, payee=payee, bank=bank, account=account))
    console.print(f"第 {line.id} 行（{line.entity_id}）: {line.status}")


@grants_app.command("accounts")
def accounts(
    path: Annotated[
        Path, typer.Argument(help="收款账户 CSV：统一社会信用代码、收款单位、开户行、账号")
    ],
    as_user: As = None,
) -> None:
    """导入收款账户（如财政一体化系统导出的收款人名录）；有一行不完整则全部不导入。"""
    import csv

    by = _who(as_user)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        console.print(f"[red]错误:[/red] 无法读取 {path}: {exc}")
        raise typer.Exit(2) from None
    n = _run(lambda: _ledger().import_accounts(rows, by, source=path.name))
    console.print(f"已导入 {n:,} 个收款账户")


@grants_app.command("export")
def export(
    batch_id: Annotated[int, typer.Argument(help="批次编号")],
    output: Annotated[Path, typer.Option("--output", "-o", help="拨付清单 CSV 文件")],
    hold_missing: Annotated[
        bool,
        typer.Option("--hold-missing", help="缺少收款账户的行暂缓，先导出其余各行（默认整批拒绝）"),
    ] = False,
    as_user: As = None,
) -> None:
    """导出拨付清单（收款单位、统一社会信用代码、开户行、账号、金额、用途），公示期满后才能导出。"""
    by = _who(as_user)
    result = _run(lambda: _ledger().export(batch_id, by, output, hold_missing=hold_missing))
    if result is None:
        console.print(f"批次 {batch_id} 没有待导出的行（已全部导出或无已确认的行）")
        return
    console.print(
        f"拨付清单 {result.export_id}: {result.lines:,} 行，合计 {result.total} 元 → {output}",
        highlight=False,
    )
    for reason, n in result.held.items():
        console.print(f"  暂缓: {reason} {n:,} 行", highlight=False)
    console.print(f"银行回单后登记: zhixiang grants paid {result.export_id} [--returned 代码,…]")


@grants_app.command("paid")
def paid(
    export_id: Annotated[int, typer.Argument(help="拨付清单编号")],
    returned: Annotated[
        str, typer.Option("--returned", help="银行退回的统一社会信用代码，逗号分隔")
    ] = "",
    as_user: As = None,
) -> None:
    """登记银行拨付结果：清单各行转为已拨付，退回的转为退回。"""
    by = _who(as_user)
    codes = [c.strip() for c in returned.split(",") if c.strip()]
    counts = _run(lambda: _ledger().mark_paid(export_id, by, codes))
    console.print("，".join(f"{k} {v:,} 行" for k, v in counts.items()))


@grants_app.command("status")
def status(batch_id: Annotated[int, typer.Argument(help="批次编号")]) -> None:
    """一个批次的情况：提出与审批、公示、各状态行数、未入批次的原因。"""
    _print_batch(_run(lambda: _ledger().batch(batch_id)))


@grants_app.command("list")
def list_batches(
    policy_id: Annotated[str | None, typer.Option("--policy", help="只列该政策")] = None,
    period: Annotated[str | None, typer.Option("--period", "-p", help="只列该年度")] = None,
) -> None:
    """列出兑现批次，新的在前。"""
    batches = _run(lambda: _ledger().batches(policy_id, period))
    table = Table("批次", "政策", "年度", "方式", "状态", "行数", "合计（元）", "提出", "审批")
    for b in batches:
        table.add_row(
            str(b.id),
            b.policy_title,
            b.period,
            b.delivery,
            _BATCH_STATUS.get(b.status, b.status),
            f"{b.lines:,}",
            str(b.total),
            b.proposed_by,
            b.approved_by or "—",
        )
    console.print(table)


@grants_app.command("lines")
def lines(
    batch_id: Annotated[int, typer.Argument(help="批次编号")],
    status: Annotated[str | None, typer.Option("--status", help="只列该状态的行")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 20,
) -> None:
    """列出批次的台账行（行号用于异议与确认）。"""
    found = _run(lambda: _ledger().lines(batch_id, status=status, limit=limit))
    table = Table("行号", "统一社会信用代码", "类型", "金额（元）", "状态", "说明")
    for line in found:
        table.add_row(
            str(line.id),
            line.entity_id,
            "兑现" if line.kind == "award" else "冲正",
            str(line.amount),
            line.status,
            line.reason or "",
        )
    console.print(table)


@grants_app.command("dashboard")
def dashboard(
    period: Annotated[str | None, typer.Option("--period", "-p", help="年度")] = None,
) -> None:
    """看板：每项政策每个年度的符合、免申兑现、已确认、已拨付、异议、自动审批与到账天数。"""
    rows = _run(lambda: _ledger().dashboard(period))
    table = Table(
        "政策", "年度", "符合", "免申兑现", "已确认", "已拨付", "异议", "自动审批", "到账天数"
    )
    for r in rows:
        table.add_row(
            r.policy_title,
            r.period,
            f"{r.eligible:,}",
            f"{r.granted_without_application:,}",
            f"{r.confirmed:,}",
            f"{r.paid:,}",
            f"{r.objections:,}",
            f"{r.auto_decided_applications:,}",
            "—" if r.median_days_to_money is None else f"{r.median_days_to_money:g}",
        )
    console.print(table)
