"""The library as configured in Settings, opened once per process, and the plain functions the
web, the API and the CLI call: `ask` for one question, `answer_rows` for a table of questions."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import date

from zhixiang.config import Settings, load_settings
from zhixiang.errors import ZhixiangError
from zhixiang.knowledge._answer import NO_BASIS_THRESHOLD, Answer
from zhixiang.knowledge._library import Filters, Library

_open: dict[tuple[str, str], Library] = {}
_lock = threading.Lock()
ANSWER_COLUMNS = ("回答", "引用文件", "引用文号", "引用条款", "引用原文", "置信度")
SEPARATOR = "；"


def open_library(settings: Settings | None = None) -> Library:
    """The configured library (Settings.knowledge_db, .knowledge_index), migrated, one per process."""
    settings = settings or load_settings()
    key = (settings.knowledge_db, str(settings.knowledge_index))
    with _lock:
        library = _open.get(key)
        if library is None:
            rewriter = None
            if settings.knowledge_llm_url:
                from zhixiang.knowledge._rewrite import openai_rewriter

                rewriter = openai_rewriter(
                    settings.knowledge_llm_url,
                    settings.knowledge_llm_model,
                    settings.knowledge_llm_key_file,
                )
            library = Library(settings.knowledge_db, settings.knowledge_index, rewriter)  # type: ignore[arg-type]
            library.migrate()
            _open[key] = library
        return library


def ask(
    question: str,
    region: str | None = None,
    issuer: str | None = None,
    in_force_on: date | None = None,
    audience: str | None = None,
    settings: Settings | None = None,
) -> Answer:
    """Answer one question from the configured library: the public face for the portals' search box."""
    library = open_library(settings)
    library.raise_if_empty()
    return library.ask(question, Filters(region, issuer, in_force_on, audience))


def answer_row(answer: Answer) -> dict[str, str]:
    """The answer columns of one CSV row; several citations are joined with `；`."""
    if not answer.found:
        return dict(
            zip(
                ANSWER_COLUMNS,
                (answer.answer, "无", "", "", "", f"{answer.confidence:.3f}"),
                strict=True,
            )
        )
    cited = answer.citations
    return {
        "回答": answer.answer,
        "引用文件": SEPARATOR.join(f"《{c.title}》" for c in cited),
        "引用文号": SEPARATOR.join(c.doc_no or "（无文号）" for c in cited),
        "引用条款": SEPARATOR.join(c.clause for c in cited),
        "引用原文": SEPARATOR.join(f"「{c.text}」" for c in cited),
        "置信度": f"{answer.confidence:.3f}",
    }


def answer_rows(
    library: Library,
    rows: Iterable[dict[str, str]],
    filters: Filters | None = None,
    threshold: float = NO_BASIS_THRESHOLD,
) -> Iterator[dict[str, str]]:
    """Each row with the answer columns added; a question that is refused gets the reason as 回答."""
    for row in rows:
        try:
            answer = library.ask(row.get("问题") or "", filters, threshold=threshold, rewrite=False)
            yield {**row, **answer_row(answer)}
        except ZhixiangError as exc:
            yield {
                **row,
                **dict(zip(ANSWER_COLUMNS, (exc.message, "无", "", "", "", "0.000"), strict=True)),
            }
