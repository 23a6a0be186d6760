"""The `zhixiang` command: one sub-command group per capability, each defined beside its capability."""

from __future__ import annotations

import typer

from zhixiang.cli import classify as classify_cli
from zhixiang.cli import demo, rules
from zhixiang.cli import insight as insight_cli
from zhixiang.cli.data import audit_app, data_app
from zhixiang.cli.tickets import tickets_app

app = typer.Typer(
    name="zhixiang",
    help="智享: 政策找人、免申即享、接诉即办 — the command line of the platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(rules.policies_app, name="policies")
app.command("match")(rules.match)
app.command("explain")(rules.explain)
app.command("near-misses")(rules.near_miss_list)
app.command("demo")(demo.run_demo)
app.command("generate")(demo.generate)
tickets_app.command("classify")(classify_cli.classify)
tickets_app.command("train")(classify_cli.train)
tickets_app.command("hot-topics")(insight_cli.hot_topics)
tickets_app.command("score-replies")(insight_cli.score_replies)
tickets_app.command("surges")(insight_cli.surges)
app.add_typer(tickets_app, name="tickets")
app.add_typer(data_app, name="data")
app.add_typer(audit_app, name="audit")


@app.command("serve")
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """启动 Web API 服务（接口文档见 /docs）。"""
    import uvicorn

    from zhixiang.api import create_app

    uvicorn.run(create_app(), host=host, port=port)
