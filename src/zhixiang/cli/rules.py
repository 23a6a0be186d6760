"""Commands for policy officers: check policy files, match them over all entities, explain one entity."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from zhixiang.cli._console import console
from zhixiang.config import load_settings
from zhixiang.demo import demo_policies_dir
from zhixiang.identity import IdentifierError, validate_credit_code
from zhixiang.matching import (
    MATCHES,
    Calculator,
    EntityReport,
    MatchRun,
    connect,
    near_misses,
    run_matching,
)
from zhixiang.rules import (
    FIELD_VALUE_TYPES,
    OPERATOR_LABELS,
    PolicySet,
    format_money,
    format_value,
    load_policies,
)

policies_app = typer.Typer(
    help="政策文件：检查语法、字段、类型与单位，并运行文件中的测试用例。", no_args_is_help=True
)

PolicyPaths = Annotated[
    list[Path] | None,
    typer.Option("--policies", "-p", help="政策文件或目录，可重复；默认使用内置示例政策。"),
]
AsOf = Annotated[
    datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="评估日期 YYYY-MM-DD，默认今天。"),
]
Warehouse = Annotated[
    str | None,
    typer.Option(
        "--warehouse",
        help="数据仓库地址，如 duckdb:///var/zhixiang.duckdb 或 postgres://…；默认读配置。",
    ),
]


def _load(paths: list[Path] | None) -> PolicySet:
    chosen = paths or [demo_policies_dir()]
    missing = [p for p in chosen if not p.exists()]
    if missing:
        console.print(f"[red]找不到政策文件或目录: {', '.join(map(str, missing))}[/red]")
        raise typer.Exit(2)
    return load_policies(chosen)


def _report_problems(policy_set: PolicySet) -> None:
    for problem in policy_set.problems:
        console.print(f"[red]✗[/red] {problem}", highlight=False, soft_wrap=True)


@policies_app.command("check")
def check_policies(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="政策文件或目录；默认内置示例政策。")
    ] = None,
) -> None:
    """检查每个政策文件并运行其测试用例；逐条列出错误（文件:行:列）。有任何错误时退出码为 1。"""
    policy_set = _load(paths)
    for policy in policy_set.policies:
        console.print(
            f"[green]✓[/green] {policy.id}  {policy.title}  （{len(policy.tests)} 个用例通过）"
        )
    _report_problems(policy_set)
    console.print(
        f"通过 {len(policy_set.policies)} 项政策，运行用例 {policy_set.tests_run} 个，发现问题 {len(policy_set.problems)} 处。"
    )
    if policy_set.problems:
        raise typer.Exit(1)


@policies_app.command("list")
def list_policies(paths: PolicyPaths = None) -> None:
    """列出可用政策：编号、名称、发布部门、有效期、条件数。"""
    policy_set = _load(paths)
    table = Table("编号", "名称", "部门", "有效期", "条件")
    for p in policy_set.policies:
        valid = f"{p.valid_from or '…'} 至 {p.valid_to or '…'}"
        table.add_row(p.id, p.title, p.department, valid, str(len(p.conditions)))
    console.print(table)
    _report_problems(policy_set)


def print_run(run: MatchRun) -> None:
    table = Table(
        "政策",
        "编号",
        "符合",
        "待补充信息",
        "差一项(近似符合)",
        "不符合",
        "金额合计",
        title=f"匹配结果（评估日 {run.as_of}，主体 {run.entities:,} 家）",
    )
    for c in run.policies:
        table.add_row(
            c.title,
            c.policy_id,
            f"{c.eligible:,}",
            f"{c.needs_information:,}",
            f"{c.near_miss:,}",
            f"{c.ineligible:,}",
            format_money(c.total_amount, 2),
        )
    console.print(table)
    if run.skipped:
        console.print(f"未在有效期内、已跳过: {', '.join(run.skipped)}")
    for problem in run.data_problems:
        console.print(f"[yellow]数据问题: {problem}（这些行照常评估，请在数据中台核查）[/yellow]")


def match(
    policies: PolicyPaths = None,
    as_of: AsOf = None,
    warehouse: Warehouse = None,
    table: Annotated[str, typer.Option(help="主体表名。")] = "enterprise",
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出汇总。")] = False,
) -> None:
    """批量匹配：对全部主体逐项评估政策，写出每个主体×政策的结论、未满足与待补充的条件和金额。

    结果写入数据仓库的 matches / match_summary 表，并存为 Parquet（var/results/<批次>/）。
    """
    settings = load_settings()
    policy_set = _load(policies)
    _report_problems(policy_set)
    if not policy_set.policies:
        console.print("[red]没有可用的政策。[/red]")
        raise typer.Exit(1)
    day = as_of.date() if as_of else date.today()
    con = connect(warehouse or settings.warehouse_url)
    if table not in con.list_tables():
        console.print(
            f"[red]数据仓库中没有主体表 {table}；请先导入数据（zhixiang data import）或运行 zhixiang demo。[/red]"
        )
        raise typer.Exit(2)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(
            "匹配政策", total=sum(p.in_force(day) for p in policy_set.policies)
        )
        run = run_matching(
            con,
            policy_set.policies,
            day,
            entity_table=table,
            results_dir=settings.results_dir,
            progress=lambda p: progress.update(task, advance=1, description=f"匹配 {p.title}"),
        )
    if as_json:
        typer.echo(run.to_json())
    else:
        print_run(run)
        console.print(f"结果: 数据仓库表 matches、match_summary；Parquet: {run.parquet}")


def _print_report(report: EntityReport, show_all: bool) -> None:
    console.print(
        f"[bold]{report.name or report.entity_id}[/bold]  {report.entity_id}  评估日 {report.as_of}"
    )
    marks = {
        "eligible": "[green]符合[/green]",
        "ineligible": "[red]不符合[/red]",
        "needs_information": "[yellow]待补充信息[/yellow]",
    }
    for policy, verdict in sorted(
        report.verdicts,
        key=lambda pv: ("eligible", "needs_information", "ineligible").index(pv[1].status),
    ):
        if verdict.status == "ineligible" and not verdict.near_miss and not show_all:
            continue
        amount = f"  可得 {format_money(verdict.amount)}" if verdict.amount is not None else ""
        near = "（只差一项）" if verdict.near_miss else ""
        console.print(
            f"\n{marks[verdict.status]}{near} {policy.title}{amount}  [dim]{policy.id} · {policy.department} · {policy.document} {policy.clause}[/dim]"
        )
        for outcome in verdict.conditions:
            mark = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: "[yellow]?[/yellow]"}[
                outcome.result
            ]
            details = "；".join(
                f"{c.left} = {format_value(c.left_value, c.type)}，要求 {OPERATOR_LABELS[c.op]} {format_value(c.right_value, c.type)}"
                for c in outcome.comparisons
            ) or "；".join(
                f"{f.label} = {format_value(v, FIELD_VALUE_TYPES[f.type])}"
                for f, v in outcome.facts
            )
            missing = (
                f"  缺少: {'、'.join(f.label for f in outcome.missing)}" if outcome.missing else ""
            )
            console.print(
                f"  {mark} {outcome.label}  [dim]{details}[/dim]{missing}", highlight=False
            )
        if verdict.missing_for_amount:
            console.print(
                f"  [yellow]?[/yellow] 计算金额缺少: {'、'.join(f.label for f in verdict.missing_for_amount)}"
            )
    console.print(f"\n合计可得: {format_money(report.total_amount)}")


def explain(
    credit_code: Annotated[str, typer.Argument(help="企业的统一社会信用代码（18位）。")],
    policies: PolicyPaths = None,
    as_of: AsOf = None,
    warehouse: Warehouse = None,
    show_all: Annotated[bool, typer.Option("--all", help="也列出差两项及以上的政策。")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出。")] = False,
) -> None:
    """政策计算器：一家企业对每项政策的结论、每个条件的实际值与门槛、可得金额，以及缺少哪些信息。"""
    try:
        code = validate_credit_code(credit_code)
    except IdentifierError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    policy_set = _load(policies)
    con = connect(warehouse or load_settings().warehouse_url)
    if "enterprise" not in con.list_tables():
        console.print("[red]数据仓库中没有企业表；请先导入数据或运行 zhixiang demo。[/red]")
        raise typer.Exit(2)
    calculator = Calculator(policy_set.policies, con.table("enterprise"))
    report = calculator.explain(code, as_of.date() if as_of else date.today())
    if report is None:
        console.print(f"[red]数据仓库中没有统一社会信用代码为 {code} 的企业。[/red]")
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_report(report, show_all)


def near_miss_list(
    policy_id: Annotated[str | None, typer.Argument(help="政策编号；不填则列出全部政策。")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="最多列出多少家。")] = 20,
    warehouse: Warehouse = None,
) -> None:
    """差一项：上次批量匹配中只差一个条件的企业，以及所差的条件——这些企业最值得告知缺什么。"""
    con = connect(warehouse or load_settings().warehouse_url)
    if MATCHES not in con.list_tables():
        console.print("[red]尚未运行批量匹配（zhixiang match）。[/red]")
        raise typer.Exit(2)
    table = Table("统一社会信用代码", "政策", "未满足的条件", "待补充")
    for row in near_misses(con, policy_id, limit):
        table.add_row(
            row["entity_id"], row["policy_id"], "、".join(row["failed"]), "、".join(row["unknown"])
        )
    console.print(table)
