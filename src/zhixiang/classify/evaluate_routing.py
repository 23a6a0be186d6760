"""Second/third category levels and 承办单位 routing on 12345 work orders, cross-validated:
`python -m zhixiang.classify.evaluate_routing [--data work_orders.csv] [--repeats 3]`."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from zhixiang.classify._data import MessageFileError
from zhixiang.classify._workorders import evaluate_work_orders, read_work_orders

LABELS = {
    "level1_accuracy": "一级分类准确率",
    "level1_majority": "  多数类基线",
    "level2_accuracy": "二级分类准确率",
    "level2_majority": "  多数类基线",
    "level3_accuracy": "三级分类准确率",
    "level3_majority": "  多数类基线",
    "routing_accuracy": "承办单位准确率（内容 + 属地）",
    "routing_district_rule": "  只按属地（被反映区 → 区分中心）",
    "routing_majority": "  多数类基线",
    "routing_manual_share": "转人工派单占比（属地不详）",
}


def evaluate(
    data: Annotated[Path | None, typer.Option(help="12345 工单导出 CSV")] = None,
    folds: Annotated[int, typer.Option(min=2)] = 5,
    repeats: Annotated[int, typer.Option(min=1)] = 3,
    seed: int = 0,
) -> None:
    """Print level-1/2/3 and routing accuracy (mean ± std over folds) against baselines."""
    from zhixiang.config import load_settings

    path = data or load_settings().shared_data_dir / "beijing12345" / "work_orders.csv"
    try:
        orders = read_work_orders(path)
    except MessageFileError as exc:
        typer.echo(f"错误: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"{path}: {len(orders.paths)} 条工单, {len(set(orders.paths))} 个三级分类路径, "
        f"{len(set(orders.units))} 个承办单位; 分层 {folds} 折 × {repeats}"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # some top levels have fewer rows than folds
        figures = evaluate_work_orders(orders, folds=folds, repeats=repeats, seed=seed)
    for key, label in LABELS.items():
        typer.echo(f"  {label:<28}{figures[key]['mean']:.3f} ± {figures[key]['std']:.3f}")


if __name__ == "__main__":
    typer.run(evaluate)
