"""Reproduce the classifier's figures in one command: `python -m zhixiang.classify.evaluate`.

Prints (1) macro-F1 of candidate models on the same repeated, grouped stratified folds, each with
and without the segmented messages, (2) the shipped procedure's CV figures (calibration included)
with per-class F1 and calibration error, and the share an auto-dispatch threshold would send.
Near-duplicates (re-posts) are kept in one fold; segmented-only messages are never scored.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from zhixiang.classify._data import MessageFileError, training_corpus
from zhixiang.classify._evaluation import (
    CANDIDATES,
    SHIPPED_CANDIDATE,
    compare_candidates,
    cross_validate,
    format_scores,
)


def evaluate(
    data: Annotated[Path | None, typer.Option(help="带 一级分类 的留言 CSV")] = None,
    segmented: Annotated[Path | None, typer.Option(help="分词后的带标签留言 CSV")] = None,
    use_segmented: Annotated[bool, typer.Option(help="训练时加入分词留言")] = True,
    folds: Annotated[int, typer.Option(min=2, help="分层 k 折的 k")] = 5,
    repeats: Annotated[int, typer.Option(min=1, help="用不同随机划分重复 k 折几次")] = 3,
    calibrated_repeats: Annotated[int, typer.Option(min=1, help="含校准的完整流程重复几次")] = 1,
    candidates: Annotated[
        str, typer.Option(help="比较哪些候选（逗号分隔；all 为全部）")
    ] = "char-svm,char-joined-svm,char-nb",
    seed: Annotated[int, typer.Option(help="划分的随机种子")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="另存全部数字为 JSON")] = None,
) -> None:
    """Compare candidates by grouped CV, then report the shipped procedure's CV figures."""
    try:
        corpus = training_corpus(data, segmented, use_segmented=use_segmented)
    except MessageFileError as exc:
        typer.echo(f"错误: {exc}", err=True)
        raise typer.Exit(2) from None
    scored = sum(not e for e in corpus.extra)
    typer.echo(f"数据: {corpus.source}")
    typer.echo(
        f"  用于评分 {scored} 条（{len(set(g for g, e in zip(corpus.groups, corpus.extra, strict=True) if not e))} 组近重复留言），"
        f"仅用于训练的分词留言 {sum(corpus.extra)} 条"
    )
    typer.echo(f"划分: 分层分组 {folds} 折 × {repeats} 次重复, seed={seed}\n")
    started = time.perf_counter()
    names = list(CANDIDATES) if candidates == "all" else candidates.split(",")
    results = compare_candidates(
        corpus.titles,
        corpus.bodies,
        corpus.labels,
        folds=folds,
        repeats=repeats,
        seed=seed,
        groups=corpus.groups,
        extra=corpus.extra,
        names=names,
    )
    typer.echo(f"候选模型 macro-F1 (mean ± std over {folds * repeats} folds, arg-max):")
    ranked = sorted(results.items(), key=lambda item: -np.mean(item[1]))
    for name, scores in ranked:
        base = name.split("/")[0]
        suffix = "（不加分词留言）" if name.endswith("/no-extra") else ""
        typer.echo(
            f"  {name:<24}{np.mean(scores):.3f} ± {np.std(scores):.3f}   {CANDIDATES[base][0]}{suffix}"
        )
    typer.echo(f"  CV 最佳: {ranked[0][0]}（交付: {SHIPPED_CANDIDATE}）\n")

    cv = cross_validate(
        corpus.titles,
        corpus.bodies,
        corpus.labels,
        folds=folds,
        repeats=calibrated_repeats,
        seed=seed,
        groups=corpus.groups,
        extra=corpus.extra,
    )
    typer.echo(
        format_scores(
            cv, f"交付模型完整训练流程（含校准）的交叉验证, {folds} 折 × {calibrated_repeats}:"
        )
    )
    typer.echo("\n按置信度阈值自动派单（上面交叉验证中各测试折的预测）:")
    typer.echo(cv.dispatch_table())
    typer.echo(f"\n用时 {time.perf_counter() - started:.0f} s")
    if json_out is not None:
        figures = {
            "data": corpus.source,
            "candidates": {n: {"mean": np.mean(s), "std": np.std(s)} for n, s in results.items()},
            "cross_validation": cv.as_dict(),
        }
        json_out.write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=float))


if __name__ == "__main__":
    typer.run(evaluate)
