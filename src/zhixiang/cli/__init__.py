"""The `zhixiang` command: one sub-command group per capability, each defined beside its capability.

Commands are registered **lazily**, so `zhixiang --help` starts in well under half a second: a
command's module is imported only when that command runs (or its own `--help` is asked for). To add
a command, add one line to `COMMANDS`:

    "name": ("zhixiang.cli.module:attribute", "中文的一句话帮助"),

`attribute` is a Typer app (a command group) or a plain function (one command). A name with a
space, like `"tickets classify"`, adds a command to the group named by its first word. The help
text here is what `zhixiang --help` lists; the module's own docstrings serve `zhixiang name --help`.
A command module imports nothing heavy (ibis, duckdb, pandas, pyarrow, sklearn, sqlalchemy,
alembic, fastapi, jieba …) at module level; `tests/cli/test_startup.py` keeps this true.
"""

from __future__ import annotations

from importlib import import_module
from typing import Annotated

import click
import typer
import typer.main
from typer.core import TyperGroup

COMMANDS: dict[str, tuple[str, str]] = {
    "policies": (
        "zhixiang.cli.rules:policies_app",
        "政策文件：检查语法、字段、类型与单位，列出政策。",
    ),
    "match": ("zhixiang.cli.rules:match", "批量匹配：全部主体×政策，结果按批次原子发布。"),
    "explain": ("zhixiang.cli.rules:explain", "政策计算器：一家企业对每项政策的结论与原因。"),
    "near-misses": (
        "zhixiang.cli.rules:near_miss_list",
        "差一项：适用范围内、门槛已接近的企业，最接近的在前。",
    ),
    "upcoming": ("zhixiang.cli.rules:upcoming", "即将符合：只因时间将在 N 天内符合的企业。"),
    "runs": ("zhixiang.cli.rules:runs", "匹配批次：列出已完成的批次与当前批次。"),
    "residents": (
        "zhixiang.cli.rules:residents_summary",
        "惠民政策找人：居民与家庭逐项政策汇总（符合、待补充、差一项、金额）。",
    ),
    "demo": ("zhixiang.cli.demo:run_demo", "演示：生成数据、导入、检查政策、批量匹配。"),
    "generate": ("zhixiang.cli.demo:generate", "生成合成企业数据（Parquet）。"),
    "generate-residents": (
        "zhixiang.cli.resident_data:generate_residents",
        "生成合成居民数据：人、户、房及其关联（Parquet）。",
    ),
    "tickets": (
        "zhixiang.cli.tickets:tickets_app",
        "接诉即办：查看与办理工单、导入 12345 工单、指标、升级、日历。",
    ),
    "tickets classify": ("zhixiang.cli.classify:classify", "为 CSV 中的诉求预测分类。"),
    "tickets train": ("zhixiang.cli.classify:train", "用标注数据训练诉求分类模型。"),
    "tickets hot-topics": (
        "zhixiang.cli.insight:hot_topics",
        "热点问题挖掘：同一地点同一问题的留言归类并排热度。",
    ),
    "tickets score-replies": (
        "zhixiang.cli.insight:score_replies",
        "答复质量评分：相关性、完整性、可解释性、及时性。",
    ),
    "tickets surges": (
        "zhixiang.cli.insight:surges",
        "激增预警：按区域×类别与热点问题回放并预警。",
    ),
    "data": ("zhixiang.cli.data:data_app", "数据中台：导入、隔离区、质量、授权、读取。"),
    "audit": ("zhixiang.cli.data:audit_app", "审计日志：核验与查看个人信息访问记录。"),
    "access": (
        "zhixiang.cli.access:access_app",
        "账号与权限：部门目录、账号、角色、API 密钥、演示账号。",
    ),
    "apply": ("zhixiang.cli.review:apply", "智能快审：为企业提交政策申请，按共享数据即时审核。"),
    "review": (
        "zhixiang.cli.review:review_app",
        "智能快审：待审队列、查看、人工审核与改判、统计。",
    ),
    "ask": ("zhixiang.cli.knowledge:ask_command", "智能咨询：就政策提问，回答引用原文条款。"),
    "knowledge": (
        "zhixiang.cli.knowledge:knowledge_app",
        "智能咨询：政策文件库、问答、知识审核、政策拆解。",
    ),
    "grants": (
        "zhixiang.cli.grants:grants_app",
        "免申即享：提出兑现批次、审批、公示异议、导出拨付清单、登记拨付、看板。",
    ),
}


def _load(name: str) -> click.Command:
    """Import the command registered under `name` and turn it into a click command."""
    module, _, attribute = COMMANDS[name][0].partition(":")
    target = getattr(import_module(module), attribute)
    leaf = name.split(" ")[-1]
    if isinstance(target, typer.Typer):
        command: click.Command = typer.main.get_group(target)
    else:
        single = typer.Typer()
        single.command(leaf)(target)
        command = typer.main.get_command(single)
    command.name = leaf
    if isinstance(command, click.Group | TyperGroup):
        for sub in COMMANDS:
            if sub.startswith(f"{name} "):
                command.add_command(_load(sub), sub.removeprefix(f"{name} "))  # type: ignore[attr-defined]
    return command


class LazyGroup(TyperGroup):
    """Lists `COMMANDS` from their help texts; imports a command's module only to run it."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = [*super().list_commands(ctx), *(n for n in COMMANDS if " " not in n)]
        return list(dict.fromkeys(names))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        eager = super().get_command(ctx, cmd_name)
        if eager is not None or cmd_name not in COMMANDS or " " in cmd_name:
            return eager
        if ctx.resilient_parsing:  # shell completion wants the real parameters
            return self._real(cmd_name)
        return click.Command(cmd_name, help=COMMANDS[cmd_name][1], short_help=COMMANDS[cmd_name][1])

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] in COMMANDS and " " not in args[0]:
            return args[0], self._real(args[0]), args[1:]
        return super().resolve_command(ctx, args)

    def _real(self, cmd_name: str) -> click.Command:
        loaded = self.commands.get(cmd_name)
        if loaded is None:
            loaded = self.commands[cmd_name] = _load(cmd_name)
        return loaded


app = typer.Typer(
    name="zhixiang",
    help="智享: 政策找人、免申即享、接诉即办 — the command line of the platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)


@app.callback()
def main() -> None:
    """智享: 政策找人、免申即享、接诉即办 — the command line of the platform."""


@app.command("serve")
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="工作进程数；Linux 上每个进程各有一个 SO_REUSEPORT 套接字，由内核均匀分配连接",
        ),
    ] = 1,
    log_level: Annotated[
        str, typer.Option(help="日志级别：critical、error、warning、info、debug、trace")
    ] = "info",
    access_log: Annotated[bool, typer.Option(help="记录每个请求（访问日志）")] = True,
) -> None:
    """启动服务：工作台（/）、企业服务（/qiye）、便民服务（/bianmin）与 Web API（接口文档见 /docs）。"""
    from zhixiang.api import serve as run
    from zhixiang.errors import ZhixiangError

    base = f"http://{host}:{port}"
    typer.echo(
        f"工作台 {base}/   企业服务 {base}/qiye   便民服务 {base}/bianmin   接口文档 {base}/docs"
    )
    try:
        run(host, port, workers, log_level=log_level, access_log=access_log)
    except ZhixiangError as exc:
        typer.echo(f"错误: {exc.message}", err=True)
        raise typer.Exit(exc.exit_code) from None


__all__ = ["app"]
