"""`zhixiang tickets …`: run the 接诉即办 service's store from the command line."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from zhixiang.cli._console import console
from zhixiang.tickets import (
    DepartmentMetrics,
    Rate,
    TicketsError,
    TicketStore,
    load_rules,
    open_store,
)
from zhixiang.tickets._deadlines import CST

tickets_app = typer.Typer(
    help="接诉即办 (12345 citizen requests): database, API keys, metrics, escalation, retraining.",
    no_args_is_help=True,
)
keys_app = typer.Typer(help="API 密钥: create, list and revoke keys for intake or one department.")
tickets_app.add_typer(keys_app, name="keys")


def _store(with_classifier: bool = False) -> TicketStore:
    try:
        from zhixiang.insight import ReplyScorer

        return open_store(with_classifier=with_classifier, reply_scorer=ReplyScorer())
    except TicketsError as exc:
        raise _fail(exc) from None


def _fail(exc: TicketsError) -> typer.Exit:
    field = f"[{exc.field}] " if exc.field else ""
    console.print(f"[red]错误:[/red] {escape(field + exc.message)}")
    return typer.Exit(2)


@tickets_app.command("migrate")
def migrate() -> None:
    """Create or upgrade the ticket database (ZHIXIANG_TICKETS_DB, default var/tickets.db)."""
    store = _store()
    console.print(f"工单库已是最新版本 {store.migrate()}: {store.engine.url.render_as_string()}")


@keys_app.command("create")
def create_key(
    department: Annotated[
        str | None, typer.Option(help="承办部门编号：密钥只能办理该部门的工单")
    ] = None,
    intake: Annotated[
        bool, typer.Option("--intake", help="受理/热线中心密钥：登记、派单、回访")
    ] = False,
    data_officer: Annotated[
        bool, typer.Option("--data-officer", help="数据管理员密钥：数据导入与授权（不能查看工单）")
    ] = False,
    label: Annotated[str | None, typer.Option(help="备注，如使用者或系统名称")] = None,
) -> None:
    """Issue a key. The secret is printed once; only its hash is kept."""
    if intake + data_officer + (department is not None) != 1:
        console.print("[red]错误:[/red] 请三选一：--intake、--data-officer 或 --department CODE")
        raise typer.Exit(2)
    scope = "intake" if intake else "data_officer" if data_officer else "department"
    try:
        secret, key = _store().create_key(scope, department, label)
    except TicketsError as exc:
        raise _fail(exc) from None
    console.print(f"密钥 {key.id}（{key.scope} {key.department or ''}）已签发，请立即保存：")
    typer.echo(secret)


@keys_app.command("list")
def list_keys() -> None:
    """Show every key's id, scope and state (never the secret)."""
    table = Table("id", "scope", "department", "label", "created (UTC)", "revoked")
    for k in _store().list_keys():
        table.add_row(
            k.id,
            k.scope,
            k.department or "",
            k.label or "",
            f"{k.created_at:%Y-%m-%d %H:%M}",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
        )
    console.print(table)


@keys_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="密钥编号（keys list 中的 id）")],
) -> None:
    """Revoke a key at once; requests using it are refused with 401."""
    try:
        key = _store().revoke_key(key_id)
    except TicketsError as exc:
        raise _fail(exc) from None
    console.print(f"密钥 {key.id} 已吊销")


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
    """Print 三率 (响应率/解决率/满意率), 按时签收率, 按期办结率 and dispatch accuracy, with denominators."""
    today = datetime.now(CST).date()
    first = since.date() if since else today - timedelta(days=30)
    last = until.date() if until else today
    start, end = _day_start(first), _day_start(last + timedelta(days=1))
    try:
        report = _store().metrics(start, end, department)
    except TicketsError as exc:
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
    rows: list[DepartmentMetrics] = [*report.departments, report.total]
    for row in rows:
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
    return datetime.combine(day, time(), tzinfo=CST).astimezone(UTC)


@tickets_app.command("escalate")
def escalate() -> None:
    """超期升级: move overdue tickets one level up 网格→社区→街道→区→市 (run it from a timer)."""
    moved = _store().escalate_overdue()
    for t in moved:
        console.print(f"#{t.id} {t.title} → {t.escalation_level} {t.escalation_region}")
    console.print(f"升级 {len(moved)} 张超期工单")


@tickets_app.command("retrain")
def retrain(
    output: Annotated[Path, typer.Option(help="新模型保存位置")],
    minimum: Annotated[int, typer.Option(help="至少需要多少张已办结工单")] = 50,
) -> None:
    """Train a new classifier on the store's handled tickets (category as finally confirmed)."""
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
    """Check a routing-rules file and print which department gets each category in each region."""
    try:
        loaded = load_rules(file)
    except TicketsError as exc:
        raise _fail(exc) from None
    table = Table(
        "一级分类",
        "区域",
        "承办部门",
        title=f"分拨规则（自动派单置信度阈值 {loaded.auto_dispatch_threshold}）",
    )
    for rule in loaded.routing:
        region = rule.region or loaded.city.code
        name = loaded.districts.get(
            region, loaded.city.name if region == loaded.city.code else region
        )
        table.add_row(rule.category, f"{region} {name}", loaded.departments[rule.department])
    console.print(table)
    for code, p in loaded.priorities.items():
        sign, handle = p.sign.time_limit().label, p.handle.time_limit().label
        console.print(f"{p.label}({code}): 签收 {sign}，办理 {handle}")
