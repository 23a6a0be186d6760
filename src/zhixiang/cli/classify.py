"""`zhixiang tickets classify` and `zhixiang tickets train`: label a message CSV, retrain the model.

Plain functions with Typer annotations; the requests command group registers them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from zhixiang.classify import (
    CONFIDENCE,
    PREDICTED,
    MessageFileError,
    default_training_data,
    load_model,
    read_messages,
    train_model,
)


def classify(
    input: Annotated[Path, typer.Option("--input", help="含 留言主题、留言详情 两列的 CSV")],
    output: Annotated[Path, typer.Option("--output", help="写出的 CSV（原列 + 预测分类、置信度）")],
    model: Annotated[
        Path | None, typer.Option("--model", help="模型文件；默认随软件包发布的模型")
    ] = None,
) -> None:
    """给留言 CSV 的每一行加上 预测分类 和 置信度（0–1），便于任何人在新数据上检验模型。"""
    try:
        messages = read_messages(input)
        classifier = load_model(model)
    except (MessageFileError, OSError, ValueError) as exc:
        _fail(str(exc))
    predictions = classifier.predict(messages.titles, messages.bodies)
    frame = messages.frame.copy()
    frame[PREDICTED] = [p.category for p in predictions]
    frame[CONFIDENCE] = [round(p.confidence, 4) for p in predictions]
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(output, index=False, encoding="utf-8-sig")
    except OSError as exc:
        _fail(f"{output}: 无法写入（{exc.strerror or exc}）")
    counts = Counter(p.category for p in predictions)
    typer.echo(f"模型 {classifier.version}: {len(predictions)} 条留言已分类，写入 {output}")
    for category, n in counts.most_common():
        typer.echo(f"  {category}: {n}")


def train(
    data: Annotated[
        Path | None,
        typer.Option("--data", help="带 一级分类 的留言 CSV；默认共享数据 messages_labeled.csv"),
    ] = None,
    segmented: Annotated[
        Path | None,
        typer.Option(
            "--segmented",
            help="另加分词后的带标签留言（分词文本_去停用词、一级分类）；不给 --data 时默认加入共享数据中的分词留言",
        ),
    ] = None,
    no_segmented: Annotated[bool, typer.Option("--no-segmented", help="不加入分词留言")] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", help="模型保存位置；默认 $ZHIXIANG_HOME/models/classifier-<版本>.joblib"
        ),
    ] = None,
    folds: Annotated[int, typer.Option("--folds", min=2, help="分层交叉验证的折数")] = 5,
) -> None:
    """先做分层分组交叉验证（近重复留言同在一折）并打印指标，再用全部数据训练，保存带版本号和指标的模型。"""
    from zhixiang.classify import training_corpus

    use_segmented = not no_segmented and (data is None or segmented is not None)
    try:
        corpus = training_corpus(data, segmented, use_segmented=use_segmented)
    except MessageFileError as exc:
        _fail(str(exc))
    scored = [y for y, extra in zip(corpus.labels, corpus.extra, strict=True) if not extra]
    smallest = min(Counter(scored).values())
    name = data or default_training_data()
    if not 2 <= folds <= smallest:
        _fail(
            f"{name}: --folds={folds} 不可用：最小的类别只有 {smallest} 条，折数须在 2 到 {smallest} 之间"
        )

    from zhixiang.classify import cross_validate, format_scores

    typer.echo(
        f"{corpus.source}: {len(corpus.labels)} 条留言, {len(set(corpus.labels))} 个一级分类"
    )
    scores = cross_validate(
        corpus.titles,
        corpus.bodies,
        corpus.labels,
        folds=folds,
        groups=corpus.groups,
        extra=corpus.extra,
    )
    typer.echo(format_scores(scores, f"分层分组 {folds} 折交叉验证 (mean ± std over folds):"))
    evaluation = {
        "method": f"stratified group {folds}-fold CV (near-duplicates in one fold; segmented rows train-only), seed 0",
        **scores.as_dict(),
    }
    try:
        classifier = train_model(
            corpus.titles, corpus.bodies, corpus.labels, source=corpus.source, evaluation=evaluation
        )
    except ValueError as exc:
        _fail(f"{name}: {exc}")
    if output is None:
        from zhixiang.config import load_settings

        output = load_settings().home / "models" / f"classifier-{classifier.version}.joblib"
    try:
        classifier.save(output)
    except OSError as exc:
        _fail(f"{output}: 无法写入（{exc.strerror or exc}）")
    typer.echo(
        f"模型 {classifier.version} 已保存到 {output}（元数据 {output.with_suffix('.json')}）"
    )


def _fail(message: str) -> NoReturn:
    typer.echo(f"错误: {message}", err=True)
    raise typer.Exit(2)
