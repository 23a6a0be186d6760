"""`zhixiang tickets …`: the 接诉即办 store from the server's shell.

Whoever runs these commands is the server's operator (`zhixiang.access.operator`), named in every
record the command writes. Nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from zhixiang.cli._console import console

if TYPE_CHECKING:
    from zhixiang.access import Principal
    from zhixiang.errors import ZhixiangError
    from zhixiang.tickets import Rate, TicketStore, TicketView

BEIJING = timezone(timedelta(hours=8))

tickets_app = typer.Typer(
    help="接诉即办（12345 诉求）：查看与办理工单、导入工单、三率指标、超期升级、节假日日历、重新训练。",
    no_args_is_help=True,
)


def _store(with_classifier: bool = False) -> TicketStore:
    from zhixiang.errors import ZhixiangError
    from zhixiang.tickets import open_store

    try:
        from zhixiang.insight import ReplyScorer

        return open_store(with_classifier=with_classifier, reply_scorer=ReplyScorer())
    except ZhixiangError as exc:
        raise _fail(exc) from None


def _me() -> Principal:
    from zhixiang.access import operator

    return operator(getpass.getuser())


def _fail(exc: ZhixiangError) -> typer.Exit:
    field = f"[{exc.field}] " if exc.field else ""
    console.print(f"[red]错误:[/red] {escape(field + exc.message)}")
    return typer.Exit(exc.exit_code)


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{aware.astimezone(BEIJING):%Y-%m-%d %H:%M}"


@tickets_app.command("migrate")
def migrate() -> None:
    """创建或升级工单库（ZHIXIANG_TICKETS_DB，默认 var/tickets.db）。"""
    store = _store()
    console.print(f"工单库已是最新版本 {store.migrate()}: {store.engine.url.render_as_string()}")


@tickets_app.command("list")
def list_tickets(
    status: Annotated[
        str | None, typer.Option(help="状态，如 received、dispatched、resolved")
    ] = None,
    department: Annotated[str | None, typer.Option(help="承办部门编号或名称")] = None,
    q: Annotated[str | None, typer.Option(help="标题或内容中的文字")] = None,
    region: Annotated[str | None, typer.Option(help="行政区划代码（6/9/12位）")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="只看已超期的")] = False,
    estimated: Annotated[
        bool, typer.Option("--estimated", help="只看时限为估算的（日历缺年份）")
    ] = False,
    limit: Annotated[int, typer.Option(help="最多显示几张")] = 50,
    offset: Annotated[int, typer.Option(help="跳过前几张（翻页）")] = 0,
) -> None:
    """列出工单（新的在前），可按状态、部门、文字、区域筛选。"""
    from pydantic import ValidationError

    from zhixiang.errors import ZhixiangError
    from zhixiang.tickets import SearchFilters

    try:
        filters = SearchFilters.model_validate(
            {
                "status": status,
                "department": department,
                "q": q,
                "region": region,
                "overdue": True if overdue else None,
                "deadline_estimated": True if estimated else None,
                "limit": limit,
                "offset": offset,
            }
        )
        found = _store().search(_me(), filters)
    except ValidationError as exc:
        first = exc.errors()[0]
        console.print(f"[red]错误:[/red] {first['loc'][0]}: {escape(first['msg'])}")
        raise typer.Exit(2) from None
    except ZhixiangError as exc:
        raise _fail(exc) from None
    table = Table("编号", "状态", "分类", "承办部门", "受理时间", "办理时限", "标题")
    for t in found:
        due = _local(t.due_at) + ("（估算）" if t.deadline_estimated else "")
        due += " 超期" if t.overdue else ""
        table.add_row(
            str(t.id),
            t.status_label,
            t.category or "",
            t.department_name or "",
            _local(t.created_at),
            due,
            escape(t.title),
        )
    console.print(table)
    console.print(f"共 {len(found)} 张")


def _show(ticket: TicketView) -> None:
    console.print(f"[bold]工单 #{ticket.id}[/bold] {escape(ticket.title)}（{ticket.status_label}）")
    rows = [
        ("渠道", ticket.channel),
        ("分类", f"{ticket.category or '未分类'}（{ticket.category_source or ''}）"),
        ("承办部门", ticket.department_name or ""),
        ("区域", ticket.region_code or ""),
        ("地址", ticket.address or ""),
        ("诉求人", f"{ticket.reporter_name or ''} {ticket.reporter_contact or ''}".strip()),
        ("受理", _local(ticket.created_at)),
        ("签收时限", _local(ticket.sign_due_at)),
        (
            "办理时限",
            _local(ticket.due_at) + ("（估算：日历缺该年份）" if ticket.deadline_estimated else ""),
        ),
        ("答复", ticket.reply or ""),
        ("答复评分", "" if ticket.reply_score is None else f"{ticket.reply_score:.2f}"),
    ]
    for label, value in rows:
        if value:
            console.print(f"  {label}: {escape(str(value))}")
    console.print(f"  内容: {escape(ticket.body)}")
    table = Table("时间", "动作", "状态", "操作人", "说明", title="办理记录")
    for e in ticket.history:
        table.add_row(_local(e.at), e.label, e.to_status, e.actor, escape(e.note or ""))
    console.print(table)


@tickets_app.command("show")
def show(
    ticket_id: Annotated[int, typer.Argument(help="工单编号")],
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """显示一张工单的全部信息与办理记录。"""
    from zhixiang.errors import ZhixiangError

    try:
        ticket = _store().get(_me(), ticket_id)
    except ZhixiangError as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(ticket.model_dump_json(indent=2))
        return
    _show(ticket)


@tickets_app.command("act")
def act(
    ticket_id: Annotated[int, typer.Argument(help="工单编号")],
    action: Annotated[
        str,
        typer.Argument(
            help="动作：dispatch 派单、sign 签收、start 办理、return 退单、reassign 改派、extend 延期、"
            "supervise 督办、remind 催办、resolve 办结、follow_up 回访、reopen 重办、archive 归档"
        ),
    ],
    department: Annotated[str | None, typer.Option(help="派单/改派的承办部门")] = None,
    category: Annotated[str | None, typer.Option(help="派单/改派时更正一级分类")] = None,
    reason: Annotated[str | None, typer.Option(help="理由或意见（退单、延期必填）")] = None,
    reply: Annotated[str | None, typer.Option(help="答复意见（办结必填）")] = None,
    days: Annotated[int | None, typer.Option(help="延期的工作日数")] = None,
    reached: Annotated[
        bool | None, typer.Option("--reached/--not-reached", help="回访是否联系上诉求人")
    ] = None,
    responded: Annotated[
        bool | None, typer.Option("--responded/--not-responded", help="承办单位是否联系过诉求人")
    ] = None,
    solved: Annotated[
        bool | None, typer.Option("--solved/--not-solved", help="问题是否解决")
    ] = None,
    satisfaction: Annotated[
        str | None,
        typer.Option(
            help="满意度：satisfied 满意、basically_satisfied 基本满意、unsatisfied 不满意"
        ),
    ] = None,
) -> None:
    """对工单执行一个办理动作（与 API 的 actions 相同，操作人记为服务器操作员）。"""
    from pydantic import ValidationError

    from zhixiang.errors import ZhixiangError
    from zhixiang.tickets import Command

    try:
        command = Command.model_validate(
            {
                "action": action,
                "department": department,
                "category": category,
                "reason": reason,
                "reply": reply,
                "days": days,
                "reached": reached,
                "responded": responded,
                "solved": solved,
                "satisfaction": satisfaction,
            }
        )
        ticket = _store().act(_me(), ticket_id, command)
    except ValidationError as exc:
        first = exc.errors()[0]
        console.print(f"[red]错误:[/red] {first['loc'][0]}: {escape(first['msg'])}")
        raise typer.Exit(2) from None
    except ZhixiangError as exc:
        raise _fail(exc) from None
    console.print(f"工单 #{ticket.id} 现为「{ticket.status_label}」")


@tickets_app.command("import-12345")
def import_12345(
    file: Annotated[Path, typer.Argument(help="12345 工单导出文件（CSV，北京 12345 导出格式）")],
    quarantine: Annotated[
        Path | None,
        typer.Option(help="把有问题的行连同原因写到这个 CSV；默认 文件名.quarantine.csv"),
    ] = None,
) -> None:
    """导入 12345 工单：好的行成为工单，有问题的行隔离并说明原因；重复导入只导入新的。"""
    from zhixiang.errors import ZhixiangError
    from zhixiang.tickets.channels import hotline12345

    store = _store()
    try:
        summary = hotline12345.import_work_orders(store, _me(), file)
    except OSError as exc:
        console.print(f"[red]错误:[/red] 无法读取 {escape(str(file))}: {escape(str(exc))}")
        raise typer.Exit(2) from None
    except ZhixiangError as exc:
        raise _fail(exc) from None
    console.print(
        f"{file}（{summary.encoding}）共 {summary.rows} 行：导入 {len(summary.imported)}，"
        f"此前已导入 {len(summary.skipped)}，隔离 {len(summary.quarantined)}"
    )
    if summary.quarantined:
        out = quarantine or file.with_suffix(".quarantine.csv")
        hotline12345.write_quarantine(summary, out)
        for q in summary.quarantined[:10]:
            console.print(f"  第 {q.record} 行 {escape(q.external_id)}: {escape(q.reason)}")
        more = len(summary.quarantined) - 10
        if more > 0:
            console.print(f"  …… 另有 {more} 行")
        console.print(f"隔离的行与原因已写入 {out}；改正后可重新导入同一文件")
        raise typer.Exit(3)


def _percent(rate: Rate) -> str:
    share = "—" if rate.value is None else f"{rate.value:.1%}"
    return f"{share} ({rate.numerator}/{rate.denominator})"


@tickets_app.command("metrics")
def metrics(
    since: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="起始日(含)，北京时间；默认30天前")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="截止日(含)，北京时间；默认今天")
    ] = None,
    department: Annotated[str | None, typer.Option(help="只看一个部门")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """三率（响应率、解决率、满意率）、按时签收率、按期办结率与派单准确率，附分子分母。"""
    from zhixiang.errors import ZhixiangError

    today = datetime.now(BEIJING).date()
    first = since.date() if since else today - timedelta(days=30)
    last = until.date() if until else today
    start, end = _day_start(first), _day_start(last + timedelta(days=1))
    try:
        report = _store().metrics(_me(), start, end, department)
    except ZhixiangError as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    table = Table(
        "部门",
        "有效回访",
        "响应率",
        "解决率",
        "满意率",
        "按时签收率",
        "按期办结率",
        title=f"接诉即办指标 {first} 至 {last}（北京时间）",
    )
    for row in [*report.departments, report.total]:
        table.add_row(
            row.name,
            str(row.valid_follow_ups),
            _percent(row.response_rate),
            _percent(row.resolution_rate),
            _percent(row.satisfaction_rate),
            _percent(row.on_time_sign_rate),
            _percent(row.on_time_resolve_rate),
        )
    console.print(table)
    console.print(f"派单准确率（未退单或改派）: {_percent(report.dispatch_accuracy)}")
    console.print(f"其中模型自动派单: {_percent(report.auto_dispatch_accuracy)}")
    console.print("分母: 三率为有效回访（联系上诉求人）；时效为本期派出且已到期或已完成的工单。")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=BEIJING).astimezone(UTC)


@tickets_app.command("escalate")
def escalate() -> None:
    """超期升级：把超期工单沿 网格→社区→街道→区→市 上升一级（请用定时任务运行）。"""
    moved = _store().escalate_overdue(_me())
    for t in moved:
        console.print(f"#{t.id} {escape(t.title)} → {t.escalation_level} {t.escalation_region}")
    console.print(f"升级 {len(moved)} 张超期工单")


@tickets_app.command("calendar")
def calendar(
    limit: Annotated[int, typer.Option(help="最多列出几张时限为估算的工单")] = 50,
) -> None:
    """节假日日历：哪些年份已有放假安排，哪些在办工单的时限只是估算（需补充日历）。"""
    from zhixiang.tickets import SearchFilters

    store = _store()
    years = store.calendar_years()
    console.print(
        f"已知放假安排的年份: {years[0]}–{years[-1]}" if years else "没有任何年份的放假安排"
    )
    next_year = datetime.now(BEIJING).year + 1
    if next_year not in years:
        console.print(
            f"[yellow]尚无 {next_year} 年的放假安排[/yellow]：国务院办公厅公布后写入节假日文件"
            "（ZHIXIANG_HOLIDAYS，格式见 docs/tickets.md），之前落在该年的工作日时限按周一至周五估算。"
        )
    found = store.search(
        _me(), SearchFilters(deadline_estimated=True, state="open", limit=max(1, min(limit, 1000)))
    )
    for t in found:
        console.print(f"  #{t.id} 办理时限 {_local(t.due_at)}（估算） {escape(t.title)}")
    console.print(f"时限为估算的在办工单: {len(found)} 张")


@tickets_app.command("retrain")
def retrain(
    output: Annotated[Path, typer.Option(help="新模型保存位置")],
    minimum: Annotated[int, typer.Option(help="至少需要多少张已办结工单")] = 50,
) -> None:
    """用工单库中已办结的工单（以最终确认的分类为准）训练新的分类模型。"""
    from zhixiang.classify import train_model

    titles, bodies, labels = _store().training_examples()
    if len(labels) < minimum or len(set(labels)) < 2:
        console.print(
            f"[red]错误:[/red] 已办结工单 {len(labels)} 张、{len(set(labels))} 个类别，"
            f"不足以训练（至少 {minimum} 张、2 个类别）"
        )
        raise typer.Exit(2)
    try:
        model = train_model(titles, bodies, labels, source="工单库中已办结工单（最终确认的分类）")
    except ValueError as exc:
        console.print(f"[red]错误:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    model.save(output)
    console.print(f"模型 {model.version} 用 {len(labels)} 张工单训练，已保存到 {output}")
    console.print("启用：设置 ZHIXIANG_CLASSIFIER_MODEL 指向该文件后重启服务")


@tickets_app.command("rules")
def rules(
    file: Annotated[
        Path | None, typer.Option(help="规则文件；默认 ZHIXIANG_TICKETS_RULES 或内置 rules.yaml")
    ] = None,
) -> None:
    """检查分拨规则文件，并列出每个分类在各区域派给哪个部门。"""
    from zhixiang.access import load_departments
    from zhixiang.errors import ZhixiangError
    from zhixiang.tickets import load_rules

    try:
        directory = load_departments()
        loaded = load_rules(file, directory)
    except ZhixiangError as exc:
        raise _fail(exc) from None
    table = Table(
        "一级分类",
        "区域",
        "承办部门",
        title=f"分拨规则（自动派单置信度阈值 {loaded.auto_dispatch_threshold}）",
    )
    for rule in loaded.routing:
        region = rule.region or loaded.city.code
        name = loaded.region_name(region) or region
        table.add_row(rule.category, f"{region} {name}", directory.name_of(rule.department) or "")
    console.print(table)
    for code, p in loaded.priorities.items():
        sign, handle = p.sign.time_limit().label, p.handle.time_limit().label
        console.print(f"{p.label}({code}): 签收 {sign}，办理 {handle}")
