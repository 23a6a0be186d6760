"""智能快审 commands: apply for a policy on an enterprise's behalf, and the reviewer's queue.

Whoever runs these is the server's operator (`zhixiang.access.operator`), named in every record; a
reviewer cannot decide an application they submitted themselves (use `--as` to name yourself).
"""

from __future__ import annotations

import getpass
import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zhixiang.cli._console import console

if TYPE_CHECKING:
    from zhixiang.access import Principal
    from zhixiang.review import ApplicationView, ReviewDesk

review_app = typer.Typer(
    help="智能快审：待审队列、查看申请、人工审核与改判（须写明理由）、自动审核统计。",
    no_args_is_help=True,
)

PolicyPaths = Annotated[
    list[Path] | None,
    typer.Option("--policies", "-p", help="政策文件或目录，可重复；默认使用配置或内置示例政策。"),
]
Me = Annotated[str | None, typer.Option("--as", help="以哪个操作员的名义（默认当前系统用户）。")]


def _me(name: str | None) -> Principal:
    from zhixiang.access import operator

    return operator(name or getpass.getuser())


def _desk(paths: list[Path] | None) -> ReviewDesk:
    from zhixiang.config import load_settings
    from zhixiang.demo import demo_policies_dir
    from zhixiang.review import open_review_desk
    from zhixiang.rules import load_policies

    chosen = paths or [load_settings().policies_dir or demo_policies_dir()]
    missing = [p for p in chosen if not p.exists()]
    if missing:
        console.print(f"[red]找不到政策文件或目录: {', '.join(map(str, missing))}[/red]")
        raise typer.Exit(2)
    policy_set = load_policies(chosen)
    try:
        return open_review_desk(policy_set.policies)
    except Exception as exc:  # no warehouse yet, or a database that does not answer
        console.print(f"[red]无法打开智能快审（请先运行 zhixiang demo 或导入数据）: {exc}[/red]")
        raise typer.Exit(2) from None


def _print(view: ApplicationView) -> None:
    from zhixiang.review import STATUS_LABELS
    from zhixiang.rules import format_money

    colour = {"approved": "green", "refused": "red", "pending": "yellow"}[view.status]
    who = "自动审核" if view.decided_by == "auto" else (view.decided_by or "尚未审核")
    amount = f"  金额 {format_money(view.amount)}" if view.amount is not None else ""
    console.print(
        f"申请 #{view.id}  {view.entity_id} · {view.policy_id}  "
        f"[{colour}]{STATUS_LABELS[view.status]}[/{colour}]{amount}  （{who}）",
        highlight=False,
    )
    marks = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "[yellow]?[/yellow]"}
    for check in view.checks:
        facts = "；".join(f"{f['label']} = {f['value']}（{f['source']}）" for f in check["facts"])
        concerns = f"  [yellow]{'；'.join(check['concerns'])}[/yellow]" if check["concerns"] else ""
        console.print(
            f"  {marks[check['result']]} {check['label']}  [dim]{facts}[/dim]{concerns}",
            highlight=False,
        )
    for item in view.pending:
        console.print(f"  [yellow]待审核：{item}[/yellow]", highlight=False)
    if view.reason:
        console.print(f"  审核理由：{view.reason}", highlight=False)


def _fail(exc: Exception) -> typer.Exit:
    from zhixiang.errors import ZhixiangError

    if isinstance(exc, ZhixiangError):
        console.print(f"[red]{exc.message}[/red]", highlight=False)
        return typer.Exit(exc.exit_code)
    raise exc


def apply(
    policy_id: Annotated[str, typer.Argument(help="政策编号（兑现方式为“申请审核”的政策）。")],
    credit_code: Annotated[str, typer.Argument(help="申请企业的统一社会信用代码。")],
    declare: Annotated[
        list[str] | None,
        typer.Option(
            "--declare",
            "-d",
            help="申报数据中台没有的事项，如 -d 新招用高校毕业生人数=3；部门已共享的事项不必也不能申报（免证办）。",
        ),
    ] = None,
    note: Annotated[str, typer.Option(help="申请说明。")] = "",
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="审核日期，默认今天。")
    ] = None,
    me: Me = None,
    policies: PolicyPaths = None,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出。")] = False,
) -> None:
    """提交申请：其余事实按“智能快审”用途的授权从数据中台读取；数据清楚的当场批准（含金额）或不予批准
    （列明未满足的条件及数据），缺数据、部门数据矛盾或须人工审核的进入待审队列。"""
    declared: dict[str, object] = {}
    for item in declare or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            console.print(f"[red]申报事项应写成 字段=值，实为 {item!r}[/red]")
            raise typer.Exit(2)
        declared[key.strip()] = {"true": True, "false": False, "是": True, "否": False}.get(
            value.strip(), value.strip()
        )
    desk = _desk(policies)
    try:
        view = desk.apply(
            _me(me),
            policy_id,
            credit_code,
            declared,
            note=note,
            as_of=as_of.date() if as_of else date.today(),
        )
    except Exception as exc:
        raise _fail(exc) from None
    finally:
        desk.close()
    if as_json:
        typer.echo(json.dumps(view.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print(view)


@review_app.command("queue")
def queue(
    status: Annotated[
        str, typer.Option(help="pending（待审，默认）、approved 或 refused。")
    ] = "pending",
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="最多列出多少件。")] = 50,
    me: Me = None,
    policies: PolicyPaths = None,
) -> None:
    """待审队列（最早的在前）：每件写明缺什么、哪些数据部门之间不一致、哪些条件须人工审核。"""
    from rich.table import Table

    desk = _desk(policies)
    try:
        rows = desk.queue(_me(me), status, limit)
    except Exception as exc:
        raise _fail(exc) from None
    finally:
        desk.close()
    table = Table("编号", "企业", "政策", "提交时间", "待审核事项", title=f"申请（{status}）")
    for view in rows:
        table.add_row(
            str(view.id),
            view.entity_id,
            view.policy_id,
            view.submitted_at.isoformat(timespec="seconds"),
            "\n".join(view.pending) or "、".join(view.failed),
        )
    console.print(table)


@review_app.command("show")
def show(
    application_id: Annotated[int, typer.Argument(help="申请编号。")],
    me: Me = None,
    policies: PolicyPaths = None,
) -> None:
    """一件申请：每个条件的数据与来源部门、结论、审核历史。"""
    desk = _desk(policies)
    try:
        who = _me(me)
        view = desk.get(who, application_id)
        events = desk.history(who, application_id)
    except Exception as exc:
        raise _fail(exc) from None
    finally:
        desk.close()
    _print(view)
    for event in events:
        reason = f"：{event.reason}" if event.reason else ""
        console.print(
            f"  [dim]{event.at.isoformat(timespec='seconds')} {event.actor} {event.action} "
            f"{event.before or '—'} → {event.after}{reason}[/dim]",
            highlight=False,
        )


@review_app.command("decide")
def decide(
    application_id: Annotated[int, typer.Argument(help="申请编号。")],
    status: Annotated[str, typer.Argument(help="approved（批准）或 refused（不予批准）。")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="理由（必填，记入审核历史）。")],
    amount: Annotated[
        str | None, typer.Option(help="批准金额（元）；默认按政策计算的金额。")
    ] = None,
    me: Me = None,
    policies: PolicyPaths = None,
) -> None:
    """审核员作出结论，或改变自动审核的结论；不能审核本人提交的申请。"""
    desk = _desk(policies)
    try:
        view = desk.decide(_me(me), application_id, status, reason, amount=amount)
    except Exception as exc:
        raise _fail(exc) from None
    finally:
        desk.close()
    _print(view)


@review_app.command("stats")
def stats(policies: PolicyPaths = None) -> None:
    """自动审核占比、待审件数、从申请到结论的用时（中位数）。"""
    desk = _desk(policies)
    try:
        figures = desk.stats()
    finally:
        desk.close()
    share = figures["automatic_share"]
    median = figures["median_seconds_to_decision"]
    console.print(
        f"申请 {figures['applications']:,} 件，自动审核 {figures['decided_automatically']:,} 件"
        f"（{'—' if share is None else f'{share:.1%}'}），待审 {figures['pending']:,} 件；"
        f"从申请到结论用时中位数 {'—' if median is None else f'{median:.3f} 秒'}",
        highlight=False,
    )
