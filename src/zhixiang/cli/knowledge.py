"""`zhixiang ask` and `zhixiang knowledge …`: the policy library from the command line.

Nothing heavy is imported at module level (jieba, bm25s, SQLAlchemy load inside the commands), so
`zhixiang --help` stays fast.
"""

from __future__ import annotations

import csv
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from zhixiang.cli._console import console

if TYPE_CHECKING:
    from zhixiang.access import Principal
    from zhixiang.knowledge import Answer, ImportReport, Library

knowledge_app = typer.Typer(
    help="智能咨询: 政策文件库（导入、查看、问答、热线知识审核、政策拆解）。", no_args_is_help=True
)

Region = Annotated[str | None, typer.Option(help="地区，如 广州、天河区（含上级与下级地区的文件）")]
Issuer = Annotated[str | None, typer.Option(help="发布机关（包含这些字即可）")]
AsOf = Annotated[str | None, typer.Option("--as-of", help="只引用这一天有效的文件，如 2026-06-30")]
Audience = Annotated[str | None, typer.Option(help="适用对象：居民 或 企业")]


def _operator() -> Principal:
    """Whoever runs the CLI at the server's shell acts as policy administrator and reviewer."""
    import os
    import pwd

    from zhixiang.access import Principal, PrincipalKind, Role

    user = pwd.getpwuid(os.getuid()).pw_name
    return Principal(
        PrincipalKind.OPERATOR, user, user, frozenset({Role.POLICY_ADMIN, Role.REVIEWER})
    )


def _library() -> Library:
    from zhixiang.errors import ZhixiangError
    from zhixiang.knowledge import open_library

    try:
        return open_library()
    except ZhixiangError as exc:
        raise _fail(exc) from None


def _fail(exc: Exception) -> typer.Exit:
    from zhixiang.errors import ZhixiangError

    field = f"[{exc.field}] " if isinstance(exc, ZhixiangError) and exc.field else ""
    console.print(f"[red]错误:[/red] {escape(field + str(exc))}")
    return typer.Exit(exc.exit_code if isinstance(exc, ZhixiangError) else 2)


def _filters(region: str | None, issuer: str | None, as_of: str | None, audience: str | None):  # type: ignore[no-untyped-def]
    from zhixiang.knowledge import Filters

    day = None
    if as_of:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            raise _fail(ValueError(f"--as-of 应为日期，如 2026-06-30，收到 {as_of!r}")) from None
    return Filters(region, issuer, day, audience)


def print_answer(answer: Answer) -> None:
    """An answer as a person reads it: the plain answer, then each quoted clause with its validity."""
    for note in answer.notes:
        console.print(f"[yellow]注意:[/yellow] {escape(note)}")
    style = "bold" if answer.found else "bold red"
    console.print(f"[{style}]{escape(answer.answer)}[/{style}]")
    console.print(f"置信度 {answer.confidence:.2f}", style="dim")
    for i, c in enumerate(answer.citations, start=1):
        date_note = f" {c.issued_on.isoformat()}发布" if c.issued_on else ""
        console.rule(f"依据 {i}")
        console.print(f"[bold]{escape(c.reference)}[/bold]{date_note} — {escape(c.validity)}")
        console.print(escape(c.text))
        if c.source_url:
            console.print(f"来源: {escape(c.source_url)}", style="dim")
    for r in answer.replies:
        console.rule("已审核的热线答复")
        console.print(f"问: {escape(r.question)}")
        console.print(f"答: {escape(r.answer[:300])}")


def ask_command(
    question: Annotated[str, typer.Argument(help="用中文写的问题，如 失业保险金能领多久？")],
    region: Region = None,
    issuer: Issuer = None,
    as_of: AsOf = None,
    audience: Audience = None,
) -> None:
    """问政策：引用文件、文号与条款原文回答；依据不足时回答“未找到依据”。"""
    from zhixiang.errors import ZhixiangError

    library = _library()
    try:
        library.raise_if_empty()
        answer = library.ask(question, _filters(region, issuer, as_of, audience))
    except ZhixiangError as exc:
        raise _fail(exc) from None
    print_answer(answer)


@knowledge_app.command("ask")
def ask_file(
    input: Annotated[Path, typer.Option("--input", "-i", help="CSV 文件，含“问题”列")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="写出的 CSV：原有各列加回答与引用")
    ],
    region: Region = None,
    issuer: Issuer = None,
    as_of: AsOf = None,
    audience: Audience = None,
) -> None:
    """批量问答：读取 CSV 的“问题”列，写出 回答、引用文件、引用文号、引用条款、引用原文、置信度。"""
    from zhixiang.errors import ZhixiangError
    from zhixiang.knowledge import ANSWER_COLUMNS, answer_rows

    library = _library()
    try:
        library.raise_if_empty()
        with input.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            if "问题" not in (reader.fieldnames or []):
                raise _fail(
                    ValueError(
                        f"{input} 没有“问题”列（现有列: {', '.join(reader.fieldnames or [])}）"
                    )
                )
            columns = [
                *(c for c in reader.fieldnames or [] if c not in ANSWER_COLUMNS),
                *ANSWER_COLUMNS,
            ]
            rows = list(reader)
        filters = _filters(region, issuer, as_of, audience)
        found = 0
        with output.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, columns, extrasaction="ignore")
            writer.writeheader()
            for row in answer_rows(library, rows, filters):
                writer.writerow(row)
                found += row["引用文件"] != "无"
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _fail(ValueError(f"无法读写 CSV: {exc}")) from None
    except ZhixiangError as exc:
        raise _fail(exc) from None
    console.print(f"已回答 {len(rows):,} 个问题（{found:,} 个找到依据）: {output}")


def print_import(report: ImportReport) -> None:
    console.print(
        f"新增 {len(report.added):,} 份，更新 {len(report.updated):,} 份，未变 {len(report.unchanged):,} 份；"
        f"条款 {report.passages:,} 条；标记为已被取代 {report.linked:,} 份"
    )
    for problem in report.rejected[:30]:
        console.print(f"[red]未导入[/red] {escape(str(problem))}")
    for problem in report.warnings[:30]:
        console.print(f"[yellow]提示[/yellow] {escape(str(problem))}")
    hidden = max(0, len(report.rejected) - 30) + max(0, len(report.warnings) - 30)
    if hidden:
        console.print(f"……另有 {hidden} 条问题未显示")


def import_with_progress(
    library: Library,
    path: Path,
    defaults: dict[str, str] | None = None,
    limit: int | None = None,
) -> ImportReport:
    """Import `path` with a progress bar; shared by `knowledge import` and the demo."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=not sys.stdout.isatty(),
    ) as progress:  # fmt: skip
        task = progress.add_task(f"读取 {path.name}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)
            if done == total:
                progress.update(task, description="切分条款、分词、写入文件库")

        return library.import_path(path, _operator(), defaults, advance, limit)


@knowledge_app.command("import")
def import_documents(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="文件或目录：.jsonl .md .txt .html .docx .pdf，或含 INDEX.csv 的法规目录"
        ),
    ],
    region: Region = None,
    issuer: Issuer = None,
    kind: Annotated[str | None, typer.Option(help="文件类别，如 规范性文件、通知公告")] = None,
    audience: Annotated[str | None, typer.Option(help="适用对象：居民、企业 或 居民,企业")] = None,
    laws_limit: Annotated[
        int | None, typer.Option(min=0, help="法规目录只导入这么多部（按目录均匀抽取）")
    ] = None,
) -> None:
    """导入政策文件：识别章、条、款、项结构与文号、日期；报告不能导入的内容，其余照常导入。"""
    from zhixiang.errors import ZhixiangError

    library = _library()
    defaults = {
        k: v
        for k, v in {"region": region, "issuer": issuer, "kind": kind, "audience": audience}.items()
        if v
    }
    failed = False
    for path in paths:
        try:
            report = import_with_progress(library, path, defaults, laws_limit)
        except ZhixiangError as exc:
            console.print(f"[red]错误:[/red] {escape(str(path))}: {escape(exc.message)}")
            failed = True
            continue
        print_import(report)
        failed |= bool(report.rejected) and not (report.added or report.updated or report.unchanged)
    if failed:
        raise typer.Exit(2)


@knowledge_app.command("list")
def list_documents(
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="标题、文号或发布机关中的字")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="文件类别，如 规范性文件、行政法规")] = None,
    limit: Annotated[int, typer.Option(min=1, max=5000)] = 50,
) -> None:
    """列出文件库中的文件：文号、发布机关、日期、是否有效。"""
    from rich.table import Table

    library = _library()
    docs = library.documents(kind=kind, query=search, limit=limit)
    table = Table("编号", "标题", "文号", "发布机关", "发布日期", "效力", "条款数")
    for d in docs:
        table.add_row(str(d.id), escape(d.title[:40]), escape(d.doc_no), escape(d.issuer[:20]),
                      d.issued_on.isoformat() if d.issued_on else "", escape(d.validity), str(d.passages))  # fmt: skip
    console.print(table)
    documents, clauses = library.count()
    console.print(f"文件库共 {documents:,} 份文件、{clauses:,} 条条款", style="dim")


@knowledge_app.command("show")
def show_document(
    ref: Annotated[str, typer.Argument(help="文件编号、来源 id（如 doc_1）或文号")],
    full: Annotated[bool, typer.Option("--full", help="显示每条条款全文")] = False,
) -> None:
    """查看一份文件：元数据、效力、版本关系与条款结构。"""
    from zhixiang.errors import ZhixiangError

    library = _library()
    try:
        view = library.document(ref)
    except ZhixiangError as exc:
        raise _fail(exc) from None
    d = view.document
    console.print(f"[bold]{escape(d.title)}[/bold]  {escape(d.doc_no)}")
    console.print(
        f"发布机关: {escape(d.issuer)}  地区: {escape(d.region)}  类别: {escape(d.kind)}  适用: {'、'.join(d.audience)}"
    )
    dates = f"发布 {d.issued_on or '—'}  施行 {d.effective_on or '—'}  失效 {d.expires_on or '—'}"
    console.print(f"{dates}  效力: {escape(d.validity)}")
    if d.replaces:
        console.print(f"废止/取代: {'、'.join(d.replaces)}")
    if d.source_url:
        console.print(f"来源: {escape(d.source_url)}", style="dim")
    for p in view.passages:
        flag = f" [yellow]({p.flagged})[/yellow]" if p.flagged else ""
        body = p.text if full else p.text.replace("\n", " ")[:80]
        console.print(f"[cyan]{p.id:>7}[/cyan] {escape(p.label)}{flag} {escape(body)}")


@knowledge_app.command("reindex")
def reindex() -> None:
    """重建检索索引（导入后会自动重建；索引目录丢失或损坏时使用）。"""
    index = _library().rebuild_index()
    console.print(f"索引已重建：{len(index):,} 条条款")


@knowledge_app.command("repeal")
def repeal(
    ref: Annotated[str, typer.Argument(help="文件编号、来源 id 或文号")],
    undo: Annotated[bool, typer.Option("--undo", help="撤销废止标记")] = False,
) -> None:
    """把文件标记为已废止（回答时不再当作现行依据）。"""
    from zhixiang.errors import ZhixiangError

    try:
        d = _library().set_repealed(ref, not undo, _operator())
    except ZhixiangError as exc:
        raise _fail(exc) from None
    console.print(f"《{escape(d.title)}》: {escape(d.validity)}")


@knowledge_app.command("harvest")
def harvest(
    input: Annotated[
        Path | None,
        typer.Option(
            "--input", "-i", help="留言与答复 CSV；默认共享数据 taidi2020/messages_with_replies.csv"
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="最多新增多少条")] = None,
) -> None:
    """把答复质量好的热线答复（可解释性=1）收为候选知识，关联条款，等待审核。"""
    from zhixiang.config import load_settings
    from zhixiang.errors import ZhixiangError
    from zhixiang.knowledge import read_replies

    path = input or load_settings().shared_data_dir / "taidi2020" / "messages_with_replies.csv"
    if not path.exists():
        raise _fail(FileNotFoundError(f"找不到 {path}"))
    library = _library()
    try:
        library.raise_if_empty()
        added, skipped = library.harvest(read_replies(path), _operator(), limit)
    except ZhixiangError as exc:
        raise _fail(exc) from None
    console.print(
        f"新增候选知识 {added:,} 条（已存在 {skipped:,} 条），请用 zhixiang knowledge candidates 审核"
    )


@knowledge_app.command("candidates")
def candidates(
    status: Annotated[
        str, typer.Option(help="pending（待审核）、approved、rejected 或 all")
    ] = "pending",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
) -> None:
    """列出候选知识（热线答复）与其关联的条款。"""
    library = _library()
    for c in library.candidates(None if status == "all" else status, limit):
        console.rule(f"候选 {c.id}（{c.status}）{escape(c.source)}")
        console.print(f"问: {escape(c.question[:200])}")
        console.print(f"答: {escape(c.answer[:300])}")
        for clause_id in c.clause_ids:
            doc, passage = library.clause(clause_id)
            console.print(
                f"  关联: 《{escape(doc.title)}》{escape(passage.label)}（条款 {clause_id}）",
                style="dim",
            )
        if c.reviewed_by:
            console.print(
                f"  审核: {escape(c.reviewed_by)} {c.reviewed_at:%Y-%m-%d %H:%M} {escape(c.review_note)}",
                style="dim",
            )


@knowledge_app.command("review")
def review(
    candidate: Annotated[int, typer.Argument(help="候选知识编号")],
    approve: Annotated[bool, typer.Option("--approve/--reject", help="通过或驳回")],
    note: Annotated[str, typer.Option(help="审核意见")] = "",
) -> None:
    """审核一条候选知识：通过后才会出现在回答中；审核人与时间记入历史。"""
    from zhixiang.errors import ZhixiangError

    try:
        c = _library().review(candidate, approve, _operator(), note)
    except ZhixiangError as exc:
        raise _fail(exc) from None
    console.print(f"候选知识 {c.id}: {c.status}（{escape(c.reviewed_by or '')}）")


@knowledge_app.command("draft")
def draft(
    document: Annotated[str, typer.Argument(help="文件编号、来源 id 或文号")],
    clause: Annotated[
        str, typer.Argument(help="条款，如 第二十二条 或 二、（一）；也可用条款编号")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="把草稿写入 YAML 文件")
    ] = None,
) -> None:
    """政策拆解：从条款起草政策条件（字段、比较、阈值与单位），每条注明原文，状态为草稿。"""
    from zhixiang.errors import ZhixiangError

    library = _library()
    try:
        clause_id = int(clause) if clause.isdigit() else library.find_clause(document, clause)
        draft_id, drafted = library.draft(clause_id, _operator())
    except ZhixiangError as exc:
        raise _fail(exc) from None
    if output:
        output.write_text(drafted.yaml, encoding="utf-8")
    else:
        console.print(escape(drafted.yaml))
    mapped = sum(1 for c in drafted.conditions if c.when)
    console.print(
        f"草稿 {draft_id}: {len(drafted.conditions)} 个数值条件，{mapped} 个已对应字段。"
        f"核对修改后运行 zhixiang knowledge confirm {draft_id} <文件>"
    )


@knowledge_app.command("confirm")
def confirm(
    draft_id: Annotated[int, typer.Argument(help="草稿编号")],
    file: Annotated[Path, typer.Argument(help="核对修改后的草稿 YAML")],
    to: Annotated[
        Path | None, typer.Option("--to", help="确认后写入的政策目录（如 ZHIXIANG_POLICIES）")
    ] = None,
) -> None:
    """确认政策草稿：先运行政策检查（语法、字段、类型、单位、用例），通过后记为已确认。"""
    from zhixiang.errors import ZhixiangError

    library = _library()
    try:
        policy = library.confirm(draft_id, file.read_text("utf-8"), _operator())
    except ZhixiangError as exc:
        raise _fail(exc) from None
    except OSError as exc:
        raise _fail(exc) from None
    console.print(f"已确认政策 {escape(policy.id)}: {len(policy.conditions)} 个条件")
    if to:
        from zhixiang.rules import load_policies

        to.mkdir(parents=True, exist_ok=True)
        target = to / f"{policy.id}.yaml"
        target.write_text(library.draft_text(draft_id)[1], encoding="utf-8")
        checked = load_policies([target])
        console.print(
            f"已写入 {target}（政策检查: {len(checked.policies)} 份通过，{len(checked.problems)} 个问题）"
        )


@knowledge_app.command("history")
def history(limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
    """文件库的操作记录：导入、审核、起草、确认，由谁、何时。"""
    for e in _library().events(limit):
        console.print(
            f"{e.at:%Y-%m-%d %H:%M:%S}  {escape(e.actor)}  {e.action}  {escape(e.target)}  {escape(e.detail)}"
        )
