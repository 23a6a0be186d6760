"""Duplicate scoring at intake (并单 proposals): CPU per comparison of one new ticket with its
candidates, over real citizen messages.

    .venv/bin/python benchmarks/duplicates_bench.py [--candidates 7,15,50] [--sets 300]
        [--previous /path/to/other/src]

For each candidate count: `sets` random (query, candidates) draws from the first 2,000 taidi2020
messages, vectors built beforehand (the n-gram index caches them), scored with the shipped code.
Every figure is the median of 3 runs after a warm-up, CPU time beside wall time, with the load
average. Baseline in the same run: sklearn's `TfidfVectorizer` fitted on the same texts (what the
numbers must equal; agreement to 1e-9 is checked on every draw). `--previous SRC` also times the
`zhixiang/tickets/_duplicates.py` of another checkout (the code before a change) on the same draws
and requires its scores to agree to 1e-12.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

from zhixiang.config import load_settings
from zhixiang.tickets import _duplicates as shipped

DATA = load_settings().shared_data_dir / "taidi2020" / "messages_labeled.csv"


def _texts() -> list[str]:
    with DATA.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["留言详情"].strip()][:2000]
    return [shipped.ticket_text(r["留言主题"], " ".join(r["留言详情"].split()), None) for r in rows]


def _module(src: str) -> ModuleType:
    """Another checkout's `_duplicates` module, loaded from its file (it imports no zhixiang code)."""
    path = Path(src) / "zhixiang" / "tickets" / "_duplicates.py"
    spec = importlib.util.spec_from_file_location("previous_duplicates", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no module at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sklearn(query: str, docs: list[str]) -> list[float]:
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)
    matrix = vectorizer.fit_transform([query, *docs])
    return linear_kernel(matrix[0:1], matrix[1:]).ravel().tolist()


def _timed(
    score: Callable[[Any, Any], object], cases: list[tuple[Any, Any]]
) -> tuple[float, float]:
    """Median (CPU ms, wall ms) per call of `score` over `cases`, 3 runs after a warm-up run."""
    cpu, wall = [], []
    for run in range(4):
        began_cpu, began_wall = time.process_time(), time.perf_counter()
        for query, docs in cases:
            score(query, docs)
        if run:
            cpu.append((time.process_time() - began_cpu) / len(cases) * 1000)
            wall.append((time.perf_counter() - began_wall) / len(cases) * 1000)
    return statistics.median(cpu), statistics.median(wall)


def _worst(ours: list[list[float]], theirs: list[list[float]]) -> float:
    return max(
        abs(a - b) for x, y in zip(ours, theirs, strict=True) for a, b in zip(x, y, strict=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", default="7,15,50")
    parser.add_argument("--sets", type=int, default=300)
    parser.add_argument("--previous", metavar="SRC", help="also time this checkout's src")
    args = parser.parse_args()
    if not DATA.exists():
        raise SystemExit(f"needs the real messages at {DATA} (set ZHIXIANG_SHARED_DATA)")
    texts = _texts()
    previous = _module(args.previous) if args.previous else None
    print(f"duplicate scoring, {len(texts)} real messages, {args.sets} draws per size; median of 3")
    print(f"load average at start {' '.join(f'{x:.1f}' for x in os.getloadavg())} (shared machine)")
    rng = random.Random(13)
    for size in map(int, args.candidates.split(",")):
        draws = [rng.sample(range(len(texts)), size + 1) for _ in range(args.sets)]
        pairs = [(texts[d[0]], [texts[i] for i in d[1:]]) for d in draws]
        vectors = {i: shipped.Vector(texts[i]) for d in draws for i in d}
        cases = [(vectors[d[0]], [vectors[i] for i in d[1:]]) for d in draws]
        ours = [shipped._scores(q, docs) for q, docs in cases]
        reference = [_sklearn(q, docs) for q, docs in pairs]
        worst = _worst(ours, reference)
        if worst > 1e-9:
            raise SystemExit(f"{size} candidates: scores differ from sklearn's by {worst:.2e}")
        cpu, wall = _timed(shipped._scores, cases)
        base_cpu, base_wall = _timed(_sklearn, pairs)
        line = (
            f"  {size:3d} candidates: {cpu:.3f} ms CPU ({wall:.3f} wall) per comparison;"
            f" sklearn {base_cpu:.3f} ms CPU ({base_wall:.3f} wall), {base_cpu / cpu:.1f}×;"
            f" agree to {worst:.0e}"
        )
        if previous is not None:
            before = {i: previous.Vector(texts[i]) for d in draws for i in d}
            old_cases = [(before[d[0]], [before[i] for i in d[1:]]) for d in draws]
            gap = _worst(ours, [previous._scores(q, docs) for q, docs in old_cases])
            if gap > 1e-12:
                raise SystemExit(f"{size} candidates: scores differ from the previous by {gap:.2e}")
            old_cpu, old_wall = _timed(previous._scores, old_cases)
            line += f"; previous {old_cpu:.3f} ms CPU ({old_wall:.3f} wall), {old_cpu / cpu:.1f}×"
        print(line + f"; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
