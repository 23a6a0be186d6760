"""智能快审 benchmark: share decided automatically, time to decision, p99 of one review (target < 100 ms).

Runs on a copy of the demo warehouse (`zhixiang demo` first; or --warehouse FILE), with a
`智能快审` grant per policy for the fields it reads, and a fresh SQLite review database per run.
Each run applies for every `申请审核` policy in force for a random sample of enterprises. Printed: the median
of the runs after a warm-up run, wall and CPU time, the load average, an agreement check (every
automatic decision equals the calculator's verdict on the same facts), and two baselines measured
in the same run: the calculator alone on the same facts (what a review adds is the data-hub read
under its grant, the conflict check and the write), and the review as it read before (the hub's
tables ensured and the audit seal read from settings on every read, DuckDB on its default thread
pool), interleaved run by run with the current one.

    .venv/bin/python benchmarks/review_bench.py [--sample 100] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from zhixiang.access import operator
from zhixiang.catalog import load_catalog
from zhixiang.config import load_settings
from zhixiang.datahub import create_grant, ensure_tables, open_warehouse
from zhixiang.demo import demo_policies_dir
from zhixiang.matching import facts_from_row
from zhixiang.review import APPROVED, PENDING, PURPOSE, REFUSED, FactSource, ReviewDesk
from zhixiang.rules import evaluate_policy, load_policies


def _by_application(policy) -> bool:  # type: ignore[no-untyped-def]
    """Policies delivered by application (申请审核); all of them before delivery modes existed."""
    return getattr(policy, "delivery", "申请审核") == "申请审核"


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _prepare(source: Path, folder: Path, policies) -> str:  # type: ignore[no-untyped-def]
    copy = folder / "warehouse.duckdb"
    shutil.copyfile(source, copy)
    url = f"duckdb://{copy}"
    with open_warehouse(url) as wh:
        ensure_tables(wh)
        for policy in policies:
            create_grant(
                wh,
                grantee=policy.id,
                grantee_kind="policy",
                entity="enterprise",
                fields=list(policy.fields_read()),
                purpose=PURPOSE,
                valid_until=date(2099, 12, 31),
                granted_by="benchmark",
            )
    return url


class _EveryRead(FactSource):
    """The baseline: reads as they were before (hub tables ensured and the audit seal read from
    settings on every read, DuckDB on all cores)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._wh.execute(f"SET threads = {os.cpu_count() or 1}")
        self._seal = None  # type: ignore[assignment]

    def read(self, policy, entity_id, fields, today):  # type: ignore[no-untyped-def]
        with self._lock:
            ensure_tables(self._wh)
        return super().read(policy, entity_id, fields, today)


class _Lookup:
    """Stored facts by key, on a connection configured like the data hub's (DuckDB allows one
    configuration per file and process; the calculator's read-only lookup would clash)."""

    def __init__(self, url: str) -> None:
        self.catalog = load_catalog("enterprise")
        self.con = duckdb.connect(url.removeprefix("duckdb://"))

    def __call__(self, code: str) -> dict | None:
        cursor = self.con.execute("SELECT * FROM enterprise WHERE credit_code = ?", [code])
        row = cursor.fetchone()
        names = [d[0] for d in cursor.description]
        return (
            None
            if row is None
            else facts_from_row(self.catalog, dict(zip(names, row, strict=True)))
        )

    def close(self) -> None:
        self.con.close()


def _run(
    url: str, folder: Path, policies, codes: list[str], as_of: date, k: str, source=FactSource
) -> dict:  # type: ignore[no-untyped-def]
    desk = ReviewDesk(f"sqlite:///{folder / f'review-{k}.db'}", policies, source(url))
    desk.migrate()
    lookup = _Lookup(url)
    clerk = operator("bench-window")
    in_force = [p for p in policies if p.in_force(as_of) and _by_application(p)]
    reviews: list[float] = []
    baseline: list[float] = []
    disagreements = 0
    views = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for code in codes:
        for policy in in_force:
            started = time.perf_counter()
            view = desk.apply(clerk, policy.id, code, as_of=as_of)
            reviews.append(time.perf_counter() - started)
            views.append(view)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    for code in codes:  # baseline and agreement: the calculator on the same stored facts
        for policy in in_force:
            started = time.perf_counter()
            facts = lookup(code)
            assert facts is not None
            verdict = evaluate_policy(policy, facts, as_of)
            baseline.append(time.perf_counter() - started)
    for view in views:
        facts = lookup(view.entity_id)
        policy = next(p for p in in_force if p.id == view.policy_id)
        verdict = evaluate_policy(policy, facts or {}, as_of)
        if view.status == APPROVED and (verdict.status, verdict.amount) != (
            "eligible",
            view.amount,
        ):
            disagreements += 1
        if view.status == REFUSED and verdict.status != "ineligible":
            disagreements += 1
    figures = desk.stats()
    lookup.close()
    desk.close()
    auto = [v for v in views if v.status != PENDING]
    return {
        "applications": len(views),
        "auto_share": figures["automatic_share"],
        "approved": sum(v.status == APPROVED for v in views),
        "refused": sum(v.status == REFUSED for v in views),
        "pending": sum(v.status == PENDING for v in views),
        "median_to_decision_ms": 1000 * statistics.median(v.seconds_to_decision for v in auto),
        "p50_ms": 1000 * _p(reviews, 0.5),
        "p99_ms": 1000 * _p(reviews, 0.99),
        "baseline_p99_ms": 1000 * _p(baseline, 0.99),
        "wall_s": wall,
        "cpu_s": cpu,
        "disagreements": disagreements,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=None, help="DuckDB warehouse file")
    parser.add_argument("--sample", type=int, default=100, help="enterprises per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 6, 30))
    args = parser.parse_args()
    source = args.warehouse or Path(load_settings().warehouse_url.removeprefix("duckdb://"))
    if not source.is_file():
        raise SystemExit(f"no warehouse at {source}: run `zhixiang demo` first")
    policies = load_policies([demo_policies_dir()]).policies
    with duckdb.connect(str(source), read_only=True) as con:
        all_codes = [r[0] for r in con.execute("SELECT credit_code FROM enterprise").fetchall()]
    print(f"warehouse {source}: {len(all_codes):,} enterprises; load average {os.getloadavg()}")
    print("machine shared with other engineers (2 cores); figures are indicative")
    with tempfile.TemporaryDirectory(prefix="review-bench-") as tmp:
        folder = Path(tmp)
        url = _prepare(source, folder, policies)
        rng = random.Random(8)
        results: list[dict] = []
        before: list[dict] = []
        for k in range(args.runs + 1):  # run 0 is the warm-up
            codes = rng.sample(all_codes, args.sample)
            for label, kind, kept in (
                ("before", _EveryRead, before),
                ("now", FactSource, results),
            ):
                result = _run(url, folder, policies, codes, args.as_of, f"{label}{k}", kind)
                print(
                    f"{'warm-up' if k == 0 else f'run {k}'} {label}: {result['applications']}"
                    f" applications, auto {result['auto_share']:.1%} (approved {result['approved']},"
                    f" refused {result['refused']}, pending {result['pending']}); review p50"
                    f" {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms; calculator alone p99"
                    f" {result['baseline_p99_ms']:.2f} ms; to decision median"
                    f" {result['median_to_decision_ms']:.1f} ms; wall {result['wall_s']:.2f} s, CPU"
                    f" {result['cpu_s']:.2f} s ({1000 * result['cpu_s'] / result['applications']:.1f}"
                    f" ms per review); disagreements {result['disagreements']};"
                    f" load {os.getloadavg()[0]:.2f}"
                )
                if k:
                    kept.append(result)
    old = {key: statistics.median(r[key] for r in before) for key in ("p50_ms", "p99_ms", "cpu_s")}
    print(
        f"baseline (reads as before), median of {args.runs}: p50 {old['p50_ms']:.1f} ms, p99"
        f" {old['p99_ms']:.1f} ms, CPU {old['cpu_s']:.2f} s per run"
    )
    keys = (
        "auto_share",
        "p50_ms",
        "p99_ms",
        "baseline_p99_ms",
        "median_to_decision_ms",
        "wall_s",
        "cpu_s",
    )
    median = {key: statistics.median(r[key] for r in results) for key in keys}
    print(
        f"median of {args.runs} runs: auto-decided {median['auto_share']:.1%}; one review p50"
        f" {median['p50_ms']:.1f} ms, p99 {median['p99_ms']:.1f} ms (target < 100 ms;"
        f" calculator alone p99 {median['baseline_p99_ms']:.2f} ms, ×{median['p99_ms'] / median['baseline_p99_ms']:.0f});"
        f" application → decision median {median['median_to_decision_ms']:.1f} ms;"
        f" wall {median['wall_s']:.2f} s, CPU {median['cpu_s']:.2f} s per run;"
        f" agreement: {sum(r['disagreements'] for r in results)} disagreements;"
        f" load average {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
