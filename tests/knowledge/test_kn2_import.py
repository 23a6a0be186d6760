"""The fast import: numpy BM25 equal to bm25s's own, tokens computed once per title, a law sample
imported on two processes, and the demo's knowledge step after which `zhixiang ask` answers."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from kn_fixtures import DOCUMENTS, OFFICER
from typer.testing import CliRunner

from zhixiang.cli import app
from zhixiang.config import load_settings
from zhixiang.knowledge import Library, parse_structure
from zhixiang.knowledge import _index as index_module
from zhixiang.knowledge._library import _cut
from zhixiang.knowledge._sources import DocumentDraft, iter_laws

LAWS = load_settings().shared_data_dir / "laws"
needs_laws = pytest.mark.skipif(
    not (LAWS / "INDEX.csv").exists(), reason=f"laws collection not found at {LAWS}"
)
runner = CliRunner()


def _texts() -> list[str]:
    texts = []
    for doc in DOCUMENTS:
        for p in parse_structure(doc["text"]).passages:
            texts.append(f"{doc['title']}\n{p.context}\n{p.text}")
    return texts


def test_numpy_bm25_equals_bm25s_own_index() -> None:
    import bm25s

    joined = [" ".join(index_module.tokenize(t)) for t in _texts()] + [""]
    ours = index_module.LexicalIndex.build(enumerate(joined), "test").retriever
    vocab = {"": 0}
    ids = [[vocab.setdefault(t, len(vocab)) for t in j.split()] or [0] for j in joined]
    theirs = bm25s.BM25()
    theirs.index((ids, vocab), show_progress=False)
    assert ours.vocab_dict == theirs.vocab_dict
    assert np.array_equal(ours.scores["indptr"], theirs.scores["indptr"])
    assert np.array_equal(ours.scores["indices"], theirs.scores["indices"])
    assert np.allclose(ours.scores["data"], theirs.scores["data"], rtol=1e-5)
    question = index_module.tokenize("公共租赁住房申请条件")
    known = [t for t in question if t in vocab]
    assert np.allclose(ours.get_scores(known), theirs.get_scores(known), rtol=1e-5)


def test_title_tokens_reused_add_up_to_the_whole_passage() -> None:
    doc = DOCUMENTS[0]
    seen: dict[str, list[str]] = {}
    for p in parse_structure(doc["text"]).passages:
        parts = index_module.passage_tokens(doc["title"], p.context, p.text, seen)
        whole = index_module.tokenize(f"{doc['title']}\n{p.context}\n{p.text}")
        assert Counter(parts.split()) == Counter(whole)
    assert doc["title"] in seen  # segmented once for all its passages


def test_rust_and_python_jieba_segment_alike() -> None:
    rjieba = pytest.importorskip("rjieba")
    jieba = index_module._jieba()
    chinese = re.compile(r"[\u3400-\u9fff]")
    for text in [*_texts(), "请致电400-893-9111咨询"]:
        assert [w for w in rjieba.cut(text) if chinese.search(w)] == [
            w for w in jieba.lcut(text) if chinese.search(w)
        ]


def test_clauses_cut_on_two_processes_equal_one_process() -> None:
    drafts = [DocumentDraft(d["id"], d["title"], d["text"], "test") for d in DOCUMENTS]
    assert index_module.parallel_map(_cut, drafts, heavy=True) == _cut(drafts)


@needs_laws
def test_a_law_limit_takes_laws_spread_over_the_collection() -> None:
    picked = [batch for _, _, batch in iter_laws(LAWS, limit=12)]
    origins = [b.drafts[0].origin for b in picked]
    assert len(picked) == 12 and len(set(origins)) == 12
    assert origins[0].endswith(":2")  # the first law (line 2 of INDEX.csv)
    assert len({b.drafts[0].kind for b in picked}) >= 3  # not one category only
    assert list(iter_laws(LAWS, limit=0)) == []


@needs_laws
def test_importing_a_law_sample_then_asking(tmp_path: Path) -> None:
    library = Library(f"sqlite:///{tmp_path / 'k.db'}", tmp_path / "index")
    library.migrate()
    seen: list[tuple[int, int]] = []
    report = library.import_path(LAWS, OFFICER, progress=lambda d, t: seen.append((d, t)), limit=60)
    assert len(report.added) + len(report.unchanged) == 60 and not report.rejected
    documents, passages = library.count()
    assert documents == 60 and passages == report.passages > 1000
    assert seen[-1] == (60, 60)
    assert len(library.index()) == passages
    again = library.import_path(LAWS, OFFICER, limit=60)
    assert len(again.unchanged) == 60 and not again.added and library.count() == (60, passages)
    title = library.documents(limit=1)[0].title
    answer = library.ask(f"{title}的立法目的是什么？")
    assert answer.found and answer.citations[0].title == title


@needs_laws
def test_demo_knowledge_step_with_a_law_limit_then_ask(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zhixiang.cli.demo import demo_knowledge

    monkeypatch.setenv("ZHIXIANG_DEMO_LAWS_LIMIT", "25")
    demo_knowledge(load_settings())
    asked = runner.invoke(app, ["ask", "失业保险金能领多久？"])
    assert asked.exit_code == 0, asked.output
    assert "广州市失业保险常见问题解答" in asked.output and "二十四个月" in asked.output
    questions = home / "q.csv"
    questions.write_text("问题\n小微企业创业担保贷款最多贷多少？\n明天广州会下雨吗？\n", "utf-8")
    answered = runner.invoke(
        app, ["knowledge", "ask", "-i", str(questions), "-o", str(home / "a.csv")]
    )
    assert answered.exit_code == 0, answered.output
    with (home / "a.csv").open(encoding="utf-8-sig", newline="") as handle:
        loan, weather = csv.DictReader(handle)
    assert loan["引用文件"].startswith("《创业担保贷款常见问题》") and "500万元" in loan["回答"]
    assert weather["引用文件"] == "无" and weather["回答"].startswith("未找到依据")
