"""`zhixiang tickets hot-topics | score-replies | surges`: 主动发现 from the command line.

Plain functions with Typer annotations, registered under the `tickets` group; nothing heavy is
imported until a command runs.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from zhixiang.cli._console import console


def _fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[red]错误:[/red] {message}", markup=True, highlight=False)
    raise typer.Exit(code)


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    from zhixiang.insight import parse_time

    try:
        return parse_time(value)
    except ValueError as exc:
        _fail(f"--as-of: {exc}")


def _report_problems(table, output: Path) -> None:  # type: ignore[no-untyped-def]
    from zhixiang.insight import write_quarantine

    path = write_quarantine(output, table.problems)
    if path is not None:
        skipped = len(table.quarantined)
        console.print(
            f"{len(table.problems)} 个问题（{skipped} 条记录隔离），清单见 {path}；前几条：",
            highlight=False,
        )
        for problem in table.problems[:5]:
            console.print(f"  {problem}", highlight=False, markup=False)


def hot_topics(
    output: Annotated[Path, typer.Option("--output", help="写出的热点问题表 CSV")],
    input: Annotated[
        Path | None,
        typer.Option(
            "--input",
            help="留言 CSV（留言编号、留言用户、留言主题、留言时间、留言详情、反对数、点赞数）；不给则分析工单库",
        ),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="只写出热度最高的前 N 个")] = 20,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="以此时间为“现在”计算时效（默认：最后一条留言的时间）"),
    ] = None,
    min_messages: Annotated[
        int, typer.Option("--min-messages", min=1, help="一个热点至少包含的留言数")
    ] = 2,
) -> None:
    """热点问题挖掘：把同一地点、同一问题的留言归为一类，按热度指数排序写出。"""
    from zhixiang.errors import ZhixiangError
    from zhixiang.insight import (
        BODY,
        TITLE,
        TOPIC_COLUMNS,
        TopicSettings,
        find_topics,
        read_table,
        write_rows,
    )

    reference = _as_of(as_of)
    try:
        if input is None:
            from zhixiang.insight import MessageTable, messages_from_store
            from zhixiang.tickets import open_store

            messages = messages_from_store(open_store(with_classifier=False))
            table = MessageTable(Path("工单库"), messages)
        else:
            table = read_table(input, required=[TITLE, BODY])
        topics = find_topics(
            table.messages,
            top=top,
            reference=reference,
            settings=TopicSettings(min_messages=min_messages),
        )
        write_rows(
            output,
            TOPIC_COLUMNS,
            (
                [
                    t.rank,
                    f"{t.heat:.2f}",
                    t.title,
                    t.place,
                    t.time_range,
                    t.size,
                    ",".join(t.message_ids),
                ]
                for t in topics
            ),
        )
    except ZhixiangError as exc:
        _fail(exc.message, exc.exit_code)
    _report_problems(table, output)
    console.print(
        f"{len(table.messages)} 条留言 → {len(topics)} 个热点问题，写入 {output}", highlight=False
    )
    for t in topics[:10]:
        console.print(
            f"  {t.rank:>2}. {t.heat:6.2f}  {t.title}  [{t.place}]  {t.time_range}  {t.size} 条",
            highlight=False,
            markup=False,
        )


def score_replies(
    input: Annotated[
        Path,
        typer.Option(
            "--input", help="含 留言主题、留言详情、答复意见（可有 留言时间、答复时间）的 CSV"
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", help="写出的 CSV（原列 + 相关性、完整性、可解释性、及时性、质量分、问题）"
        ),
    ],
    limit_days: Annotated[int, typer.Option("--limit-days", min=1, help="答复时限（工作日）")] = 15,
) -> None:
    """答复质量评分：相关性、完整性、可解释性、及时性与总分（0–1），并写明缺什么。"""
    from zhixiang.errors import ZhixiangError
    from zhixiang.insight import (
        BODY,
        REPLY,
        REPLY_COLUMNS,
        TITLE,
        ReplyScorer,
        ReplySettings,
        read_table,
        write_rows,
    )

    try:
        table = read_table(input, required=[TITLE, BODY, REPLY])
    except ZhixiangError as exc:
        _fail(exc.message, exc.exit_code)
    scorer = ReplyScorer(ReplySettings(limit_days=limit_days))
    scored = {}
    for m in table.messages:
        scored[m.record] = scorer.score(m.title, m.body, m.reply, m.time, m.reply_time)
    columns = [c for c in table.columns if c not in REPLY_COLUMNS] + REPLY_COLUMNS
    own = [c for c in table.columns if c not in REPLY_COLUMNS]
    input_explanation = "可解释性" in table.columns
    if input_explanation:  # the hand label keeps its values, in a column of its own
        columns = [*own, "原可解释性", *REPLY_COLUMNS]

    def rows():  # type: ignore[no-untyped-def]
        for record, row in enumerate(table.rows, start=1):
            values = [row.get(c, "") for c in own]
            if input_explanation:
                values.append(row.get("可解释性", ""))
            s = scored.get(record)
            if s is None:
                yield [*values, "", "", "", "", "", "记录被隔离，未评分"]
            else:
                timely = "" if s.timeliness is None else s.timeliness
                yield [
                    *values,
                    s.relevance,
                    s.completeness,
                    s.explanation,
                    timely,
                    s.total,
                    s.summary,
                ]

    try:
        write_rows(output, columns, rows())
    except ZhixiangError as exc:
        _fail(exc.message, exc.exit_code)
    _report_problems(table, output)
    weak = sum(scorer.is_weak(s) for s in scored.values())
    mean = sum(s.total for s in scored.values()) / len(scored) if scored else 0.0
    console.print(
        f"{len(scored)} 条答复已评分（平均质量分 {mean:.2f}，低于 {scorer.settings.weak_below} 的 {weak} 条），写入 {output}",
        highlight=False,
    )


def surges(
    input: Annotated[
        Path | None,
        typer.Option("--input", help="留言 CSV（含 留言时间）；不给则分析工单库"),
    ] = None,
    record: Annotated[bool, typer.Option("--record", help="把预警存入预警库（去重）")] = False,
    alpha: Annotated[
        float, typer.Option("--alpha", min=1e-9, max=0.5, help="泊松检验的显著性水平")
    ] = 0.001,
    min_count: Annotated[
        int, typer.Option("--min-count", min=1, help="7 天内至少多少件才预警")
    ] = 5,
    min_ratio: Annotated[
        float, typer.Option("--min-ratio", min=1.0, help="至少是预期的几倍")
    ] = 3.0,
    since: Annotated[
        str | None, typer.Option("--since", help="从哪天开始回放（默认：有 8 周基线之后）")
    ] = None,
) -> None:
    """激增预警：按 区域×类别 和 热点问题 回放历史，列出每次预警（何时、多少件、预期多少）。"""
    from zhixiang.classify import load_model
    from zhixiang.errors import ZhixiangError
    from zhixiang.insight import (
        BODY,
        TIME,
        TITLE,
        SurgeSettings,
        open_alert_store,
        read_table,
        scan,
    )

    start = _as_of(since)
    try:
        settings = SurgeSettings(alpha=alpha, min_count=min_count, min_ratio=min_ratio)
        if input is not None:
            table = read_table(input, required=[TITLE, BODY, TIME], needs_time=True)
            messages = table.messages
            classifier = load_model()
            categories = [
                p.category
                for p in classifier.predict([m.title for m in messages], [m.body for m in messages])
            ]
        else:
            from zhixiang.insight import messages_from_store
            from zhixiang.tickets import open_store

            table = None
            store = open_store(with_classifier=False)
            views = {}
            messages = messages_from_store(store)
            from zhixiang.insight import ticket_views

            views = {str(v.id): v.category or "未分类" for v in ticket_views(store)}
            categories = [views.get(m.id, "未分类") for m in messages]
        found = scan(
            messages,
            categories,
            area_settings=settings,
            topic_settings=SurgeSettings(
                alpha=alpha, min_count=max(3, min_count - 1), min_ratio=min_ratio
            ),
            since=start.date() if start else None,
        )
        stored = ""
        if record:
            alerts = open_alert_store()
            created, updated = alerts.record(found)
            stored = f"；存入预警库：新增 {len(created)} 条，更新 {len(updated)} 条"
    except (ZhixiangError, ValueError, OSError) as exc:
        _fail(getattr(exc, "message", str(exc)), getattr(exc, "exit_code", 2))
    if table is not None and input is not None:
        _report_problems(table, input.with_name(input.stem + "_surges.csv"))
    console.print(f"{len(messages)} 条留言 → {len(found)} 次激增预警{stored}", highlight=False)
    for s in found:
        console.print(
            f"  {s.first_day} 起（至 {s.last_day}）  {s.kind:<13} {s.key[:50]}  7 天 {s.count} 件，预期 {s.expected:.1f}，P={s.p_value:.1e}",
            highlight=False,
            markup=False,
        )
