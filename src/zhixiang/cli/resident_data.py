"""`zhixiang generate-residents` and the demo's resident step: synthetic 天河区 residents, imported."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from zhixiang.cli._console import console
from zhixiang.config import Settings, load_settings

Count = Annotated[int, typer.Option("--count", "-n", min=1, help="生成的人数（可到 10,000,000）。")]


def generate_residents(
    count: Count = 200_000,
    seed: Annotated[int, typer.Option(help="随机种子；相同种子生成相同数据。")] = 0,
    chunk: Annotated[
        int, typer.Option(min=1000, help="每块人数；块越小占用内存越少。")
    ] = 1_000_000,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="输出文件夹（每张表一个 Parquet 文件）。")
    ] = None,
) -> None:
    """生成合成居民数据（天河区真实街道代码、有效身份证号、户与成员、房屋与权利人），写为 Parquet。"""
    import pyarrow.parquet as pq

    from zhixiang.catalog import load_catalog
    from zhixiang.demo import Residents, iter_residents

    folder = output or load_settings().data_dir / "residents"
    folder.mkdir(parents=True, exist_ok=True)
    names = list(Residents.__dataclass_fields__)
    writers = {
        name: pq.ParquetWriter(folder / f"{name}.parquet", load_catalog(name).arrow_schema())
        for name in names
    }
    written = {name: 0 for name in names}
    started = time.perf_counter()
    try:
        for part in iter_residents(count, seed, chunk=chunk):
            for name, table in part.tables().items():
                writers[name].write_table(table)
                written[name] += table.num_rows
            console.print(f"  {written['person']:,} / {count:,} 人", highlight=False)
    finally:
        for writer in writers.values():
            writer.close()
    console.print(
        f"已生成 {written['person']:,} 人、{written['household']:,} 户、{written['house']:,} 套房屋"
        f"（{time.perf_counter() - started:.1f} 秒）: {folder}"
    )


def demo_residents(
    settings: Settings, count: int = 200_000, seed: int = 0, enterprises: Sequence[str] = ()
) -> None:
    """The demo's resident warehouse: generate, split into departments' extracts, import, count.

    `enterprises` (统一社会信用代码 already in the warehouse) receive persons as 参保单位, 法定代表人, 股东.
    """
    from zhixiang.cli.data import print_report
    from zhixiang.datahub import open_warehouse, resident_quarantine_counts
    from zhixiang.demo import generate_residents as generate
    from zhixiang.demo.resident_sources import import_resident_sources

    console.rule("居民数据（人、户、房）")
    started = time.perf_counter()
    residents = generate(count, seed, enterprises=enterprises)
    console.print(
        f"已生成 {residents.person.num_rows:,} 人（天河区），按部门拆成人口库、就业收入、残联、医保、"
        "救助、家庭、成员、不动产、权利人、任职等数据源后导入："
    )
    report = import_resident_sources(settings, residents, seed)
    print_report(report)
    with open_warehouse(settings.warehouse_url) as wh:
        reasons = resident_quarantine_counts(wh)
    rows = report.entity_rows
    console.print(
        f"居民仓库: {rows.get('person', 0):,} 人，{rows.get('household', 0):,} 户"
        f"（{rows.get('household_member', 0):,} 名成员），{rows.get('house', 0):,} 套房屋"
        f"（{rows.get('house_owner', 0):,} 条产权）；用时 {time.perf_counter() - started:.1f} 秒",
        highlight=False,
    )
    if reasons:
        console.print("隔离（按原因）: " + "；".join(f"{k} {v}" for k, v in reasons.items()))
