"""The main job on the embedded default: demo data in, policies checked, matching run, summary out."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import pyarrow.parquet as pq
import typer

from zhixiang.catalog import load_catalog
from zhixiang.cli.access import demo_users
from zhixiang.cli.data import print_report
from zhixiang.cli.resident_data import demo_residents
from zhixiang.cli.rules import check_policies, console, match, residents_summary
from zhixiang.config import Settings, load_settings
from zhixiang.demo import demo_policies_dir, generate_enterprises, iter_enterprises
from zhixiang.demo.departments import import_demo_sources

Count = Annotated[
    int, typer.Option("--count", "-n", min=1, help="生成的企业数量（可到 10,000,000）。")
]
Seed = Annotated[int, typer.Option(help="随机种子；相同种子生成相同数据。")]


def generate(
    count: Count = 50_000,
    seed: Seed = 0,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="输出 Parquet 文件。")
    ] = None,
) -> None:
    """生成合成企业数据（有效的统一社会信用代码、厦门市真实区划代码、部分事实缺失），写为 Parquet。"""
    path = output or load_settings().data_dir / "enterprises.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with pq.ParquetWriter(path, load_catalog("enterprise").arrow_schema()) as writer:
        for table in iter_enterprises(count, seed):
            writer.write_table(table)
            written += table.num_rows
            console.print(f"  {written:,} / {count:,}", highlight=False)
    console.print(f"已生成 {written:,} 家企业: {path}")


def run_demo(
    count: Count = 50_000,
    seed: Seed = 0,
    residents: Annotated[
        int | None,
        typer.Option("--residents", min=1, help="生成的居民人数；默认为企业数的4倍（200,000）。"),
    ] = None,
) -> None:
    """演示：生成企业与居民数据 → 经数据中台导入仓库 → 检查政策 → 批量匹配 → 打印汇总与结果位置。"""
    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    console.rule("1. 生成并导入演示数据")
    table = generate_enterprises(count, seed, reference=date.today())
    console.print(
        f"已生成 {table.num_rows:,} 家企业；按部门拆成 Excel、GBK CSV、SQL 表等数据源后导入："
    )
    print_report(import_demo_sources(settings, table))
    console.print(f"数据仓库: {settings.warehouse_url}")
    console.rule("2. 检查政策")
    try:
        check_policies([demo_policies_dir()])
    except typer.Exit as exit_:
        if exit_.exit_code:
            raise
    console.rule("3. 批量匹配")
    match(policies=None, as_of=None, warehouse=None, table="enterprise", as_json=False)
    demo_residents(
        settings,
        residents or 4 * count,
        seed,
        enterprises=table.column("credit_code").slice(0, 5000).to_pylist(),
    )
    residents_summary(policies=None, as_of=None, warehouse=None)
    demo_knowledge(settings)
    demo_grants(settings, table)
    console.rule(
        "6. 演示账号（登录 zhixiang serve 的工作台与门户）"
    )  # last: the logins stay on screen
    demo_users(enterprise=str(table.column("credit_code")[0]))
    console.print("查看单个企业: zhixiang explain <统一社会信用代码>；启动服务: zhixiang serve")


def demo_grants(settings: Settings, table) -> None:  # type: ignore[no-untyped-def]
    """免申即享: one proposed batch per 直接兑现 policy, waiting for the demo reviewer."""
    from zhixiang.cli.grants import print_proposal
    from zhixiang.demo.grants import propose_demo_batches

    console.rule("5. 免申即享：每项直接兑现政策一个待审批的兑现批次")
    for made in propose_demo_batches(settings, table, demo_policies_dir()):
        if made.proposal is None:
            console.print(f"{made.title}: {made.refused}", highlight=False)
        else:
            print_proposal(made.proposal, made.policy_id)
    console.print(f"兑现台账: {settings.grants_db}", highlight=False)
    console.print(
        "审批: zhixiang grants approve <批次> --as demo-reviewer；"
        "公示期满后导出: zhixiang grants export <批次> -o 拨付清单.csv --hold-missing；"
        "列表: zhixiang grants list",
        highlight=False,
    )


def demo_knowledge(settings: Settings) -> None:
    """智能咨询: the Guangzhou documents and the laws of the shared data into the policy library."""
    from zhixiang.cli.knowledge import import_with_progress, print_import
    from zhixiang.knowledge import open_library

    console.rule("4. 政策文件库（智能咨询）")
    sources = [
        settings.shared_data_dir / "policy_texts" / "guangzhou" / "documents.jsonl",
        settings.shared_data_dir / "laws",
    ]
    missing = [str(p) for p in sources if not p.exists()]
    if missing:
        console.print(f"跳过：找不到共享数据 {', '.join(missing)}")
        return
    library = open_library(settings)
    for source in sources:
        print_import(import_with_progress(library, source, limit=settings.demo_laws_limit))
    if settings.demo_laws_limit is not None:
        console.print(f"法规按 ZHIXIANG_DEMO_LAWS_LIMIT 只抽取了 {settings.demo_laws_limit:,} 部")
    console.print(
        '问政策: zhixiang ask "失业保险金能领多久？"；批量: zhixiang knowledge ask -i 问题.csv -o 回答.csv'
    )
