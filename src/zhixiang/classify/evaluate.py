"""Reproduce the classifier's figures in one command: `python -m zhixiang.classify.evaluate`.

Prints (1) macro-F1 of every candidate model on the same repeated stratified folds, (2) the shipped
procedure's CV figures with per-class F1 (mean ± std over folds) and calibration error, and (3) one
stratified 80/20 held-out split against the majority-class baseline; also the share of tickets an
auto-dispatch threshold would send and how many of those are right.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from zhixiang.classify._data import MessageFileError, default_training_data, read_messages
from zhixiang.classify._evaluation import (
    CANDIDATES,
    SHIPPED_CANDIDATE,
    compare_candidates,
    cross_validate,
    format_scores,
    holdout,
)


def evaluate(
    data: Annotated[Path | None, typer.Option(help="带 一级分类 的留言 CSV")] = None,
    folds: Annotated[int, typer.Option(min=2, help="分层 k 折的 k")] = 5,
    repeats: Annotated[int, typer.Option(min=1, help="用不同随机划分重复 k 折几次")] = 3,
    seed: Annotated[int, typer.Option(help="划分的随机种子")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="另存全部数字为 JSON")] = None,
) -> None:
    """Compare candidates by CV, then report the shipped model's CV and held-out figures."""
    path = data or default_training_data()
    try:
        messages = read_messages(path, labelled=True)
    except MessageFileError as exc:
        typer.echo(f"错误: {exc}", err=True)
        raise typer.Exit(2) from None
    assert messages.labels is not None
    titles, bodies, labels = messages.titles, messages.bodies, messages.labels
    typer.echo(f"数据: {path} — {len(labels)} 条留言, {len(set(labels))} 个一级分类")
    typer.echo(f"划分: 分层 {folds} 折 × {repeats} 次重复, seed={seed}\n")

    started = time.perf_counter()
    candidates = compare_candidates(titles, bodies, labels, folds=folds, repeats=repeats, seed=seed)
    typer.echo(f"候选模型 macro-F1 (mean ± std over {folds * repeats} folds, arg-max, 未校准):")
    ranked = sorted(candidates.items(), key=lambda item: -np.mean(item[1]))
    for name, scores in ranked:
        description = CANDIDATES[name][0]
        typer.echo(f"  {name:<16}{np.mean(scores):.3f} ± {np.std(scores):.3f}   {description}")
    best = ranked[0][0]
    verdict = "即交付模型" if best == SHIPPED_CANDIDATE else f"不是交付模型 {SHIPPED_CANDIDATE}!"
    typer.echo(f"  CV 最佳: {best}（{verdict}）\n")

    cv = cross_validate(titles, bodies, labels, folds=folds, repeats=repeats, seed=seed)
    typer.echo(
        format_scores(cv, f"交付模型完整训练流程（含校准）的交叉验证, {folds} 折 × {repeats}:")
    )
    typer.echo("\n按置信度阈值自动派单（上面交叉验证中各测试折的预测）:")
    typer.echo(cv.dispatch_table())
    model, majority = holdout(titles, bodies, labels, test_size=0.2, seed=seed)
    typer.echo("")
    typer.echo(format_scores(model, f"分层留出 20% 测试集 (seed={seed}):"))
    typer.echo(format_scores(majority, "同一测试集上的多数类基线:"))
    typer.echo(f"\n用时 {time.perf_counter() - started:.0f} s")
    if json_out is not None:
        figures = {
            "data": str(path),
            "candidates": {
                n: {"mean": np.mean(s), "std": np.std(s)} for n, s in candidates.items()
            },
            "cross_validation": cv.as_dict(),
            "holdout": model.as_dict(),
            "holdout_majority_baseline": majority.as_dict(),
        }
        json_out.write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=float))


if __name__ == "__main__":
    typer.run(evaluate)
