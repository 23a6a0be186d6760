"""Benchmark the job users run: `run_matching` writing a whole run, against DuckDB writing every
entity × policy outcome as one wide Parquet row; plus incremental runs, Spark and the calculator.

Run by hand, not in CI:  .venv/bin/python benchmarks/match_bench.py [--sizes 100000,1000000,10000000]

Every figure is the median of `--repeats` runs after one warm-up, each run in a fresh child process
(so peak memory is that run's own), with CPU time (all threads) beside wall time and the load
average. DuckDB and Spark both get `--threads` threads. Agreement is checked on every comparison:
per-policy counts and a checksum of the kept rows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

AS_OF = date(2026, 6, 30)
HERE = Path(__file__).resolve()


def say(text: str = "") -> None:
    print(text, flush=True)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}/{fifteen:.1f}"


# ---------------------------------------------------------------- the measured jobs (in a child)


def _policies(count: int):
    sys.path.insert(0, str(HERE.parent))
    from rules_bench import replicate  # the 200 policies of the rules benchmark

    from zhixiang.demo import demo_policies_dir
    from zhixiang.rules import load_policies

    demo = [p for p in load_policies([demo_policies_dir()]).policies if p.in_force(AS_OF)]
    return demo if count <= len(demo) else replicate(demo, count)


def job_match(
    warehouse: str, results: str, policies: int, threads: int, engine: str, full: bool
) -> dict:
    from zhixiang.matching import run_matching

    chosen = _policies(policies)
    options = (
        {"threads": threads, "memory_limit": "3GB"}
        if engine == "duckdb"
        else {"master": f"local[{threads}]"}
    )
    run = run_matching(
        warehouse, chosen, AS_OF, results_dir=Path(results), engine=engine, full=full, **options
    )
    return {
        "mode": run.mode,
        "changed_entities": run.changed_entities,
        "kept": sum(p.kept for p in run.policies),
        "reused": sum(p.reused for p in run.policies),
        "counts": {
            p.policy_id: [
                p.eligible,
                p.needs_information,
                p.ineligible,
                p.near_miss,
                str(p.total_amount),
            ]
            for p in run.policies
        },
        "run": str(run.path),
    }


def job_wide(
    warehouse: str, results: str, policies: int, threads: int, engine: str, full: bool
) -> dict:
    """The baseline: DuckDB writes every entity × policy row, all outcome columns, with COPY."""
    import duckdb
    import ibis

    from zhixiang.matching import evaluations

    chosen = _policies(policies)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET memory_limit = '3GB'")
    con.execute(f"ATTACH '{warehouse.removeprefix('duckdb://')}' AS w (READ_ONLY)")
    schema = ibis.Schema.from_pyarrow(
        con.execute("SELECT * FROM w.enterprise LIMIT 0").arrow().schema
    )
    table = ibis.table(schema, name="enterprise")
    start = time.perf_counter()
    sqls = [str(ibis.to_sql(e, dialect="duckdb")) for e in evaluations(chosen, table, AS_OF)]
    compile_s = time.perf_counter() - start
    con.execute("CREATE VIEW enterprise AS SELECT * FROM w.enterprise")
    out = Path(results) / "wide"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for i, sql in enumerate(sqls):
        con.execute(f"COPY ({sql}) TO '{out}/p{i}.parquet' (FORMAT parquet)")
    return {"compile_s": compile_s, "files": len(sqls)}


def child(args: argparse.Namespace) -> None:
    job = {"match": job_match, "wide": job_wide}[args.job]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    out = job(args.warehouse, args.results, args.policies, args.threads, args.engine, args.full)
    out |= {
        "wall": time.perf_counter() - wall0,
        "cpu": time.process_time() - cpu0,
        "rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }
    print("RESULT " + json.dumps(out))


def measure(job: str, warehouse: str, results: Path, *, policies: int, threads: int, engine: str = "duckdb", full: bool = False, repeats: int = 3, before=None) -> dict:  # fmt: skip
    """Median of `repeats` child runs after a warm-up; `before` runs (untimed) before each one."""
    runs = []
    for i in range(repeats + 1):
        if before:
            before()
        cmd = [sys.executable, str(HERE), "--child", job, "--warehouse", warehouse, "--results", str(results),
               "--policies", str(policies), "--threads", str(threads), "--engine", engine]  # fmt: skip
        if full:
            cmd.append("--full")
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{job} failed:\n{done.stderr[-3000:]}")
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
        result = json.loads(line.removeprefix("RESULT ")) | {"load": os.getloadavg()[0]}
        if i:  # the first run warms caches and is not counted
            runs.append(result)
    return runs[-1] | {  # the last run's outputs are the ones still on disk
        "wall": statistics.median(r["wall"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "rss_gib": max(r["rss_gib"] for r in runs),
        "walls": [round(r["wall"], 2) for r in runs],
        "loads": [round(r["load"], 1) for r in runs],
    }


def show(label: str, r: dict) -> None:
    say(
        f"  {label:44s} wall {r['wall']:7.2f} s  CPU {r['cpu']:7.2f} s  peak {r['rss_gib']:.2f} GiB"
        f"  runs {r['walls']}  load {r['loads']}"
    )


# ---------------------------------------------------------------- set-up and checks (in the parent)


def make_warehouse(path: Path, n: int) -> str:
    import duckdb

    from zhixiang.demo import iter_enterprises

    with duckdb.connect(str(path)) as con:
        for i, chunk in enumerate(iter_enterprises(n, 0)):
            con.register("chunk", chunk)
            con.execute("CREATE TABLE enterprise AS SELECT * FROM chunk" if i == 0 else "INSERT INTO enterprise SELECT * FROM chunk")  # fmt: skip
            con.unregister("chunk")
        con.execute("CREATE UNIQUE INDEX enterprise_key ON enterprise(credit_code)")
    return f"duckdb://{path}"


def touch_share(warehouse: str, every: int) -> None:
    """Change a fact of every `every`-th enterprise (in place: same rows, same order)."""
    import duckdb

    with duckdb.connect(warehouse.removeprefix("duckdb://")) as con:
        con.execute(f"UPDATE enterprise SET employees = coalesce(employees, 0) + 1 WHERE rowid % {every} = 0")  # fmt: skip


def checksum(run_dir: str) -> tuple:
    """Per policy: kept rows and a hash sum of (entity_id, masks, amount): equal runs, equal sums."""
    import duckdb

    con = duckdb.connect()
    return tuple(
        con.execute(
            f"SELECT r.policy_id, count(*), sum(hash(e.entity_id, r.failed, r.unknown, r.amount))"
            f" FROM read_parquet('{run_dir}/rows/*/*.parquet', hive_partitioning = true) r"
            f" JOIN read_parquet('{run_dir}/entities/*.parquet') e USING (idx)"
            " GROUP BY ALL ORDER BY 1"
        ).fetchall()
    )


def bench_calculator(warehouse: str, lookups: int, repeats: int = 3) -> dict:
    """The one-entity calculator users get (indexed lookup + evaluation, nothing remembered): p50/p99
    of each of `repeats` runs of `lookups` random entities after a warm-up, and their medians."""
    import duckdb
    import numpy as np

    from zhixiang.demo import demo_policies_dir
    from zhixiang.matching import Calculator, EntityLookup
    from zhixiang.rules import load_policies

    with duckdb.connect(warehouse.removeprefix("duckdb://"), read_only=True) as con:
        codes = [r[0] for r in con.execute(f"SELECT credit_code FROM enterprise USING SAMPLE {lookups * repeats + 50} ROWS").fetchall()]  # fmt: skip
    lookup = EntityLookup(warehouse)
    calculator = Calculator(load_policies([demo_policies_dir()]).policies, lookup)
    for code in codes[:50]:  # warm-up
        calculator.explain(code, AS_OF)
    runs = []
    for r in range(repeats):
        latency, lookup_only, cpu = [], [], 0.0
        for code in codes[50 + r * lookups : 50 + (r + 1) * lookups]:
            t = time.perf_counter()
            lookup(code)
            lookup_only.append(time.perf_counter() - t)
            calculator._remembered.clear()  # time the evaluation too, not the memory of it
            c, t = time.process_time(), time.perf_counter()
            assert calculator.explain(code, AS_OF) is not None
            latency.append(time.perf_counter() - t)
            cpu += time.process_time() - c
        ms, lms = np.array(latency) * 1000, np.array(lookup_only) * 1000
        runs.append({
            "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)),
            "lookup_p50": float(np.percentile(lms, 50)),
            "lookup_p99": float(np.percentile(lms, 99)),
            "cpu_ms": cpu / len(latency) * 1000,
        })  # fmt: skip
    lookup.close()
    median = {k: statistics.median(run[k] for run in runs) for k in runs[0]}
    return median | {"p99_runs": [round(run["p99"], 2) for run in runs]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--many", type=int, default=200, help="policies for the large run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--spark", action="store_true", help="also Spark local vs DuckDB")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated warehouses in --work and reuse them"
    )
    parser.add_argument("--only", choices=["warehouse", "calculator", "many"], default=None,
                        help="only generate the warehouses (with --keep, to measure later), only time the calculator,"
                             " or only the --many policies run")  # fmt: skip
    parser.add_argument("--many-baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="time the baseline of the --many run (at 10M × 200 it takes ~18 min a run)")  # fmt: skip
    parser.add_argument(
        "--no-incremental", action="store_true", help="time the baseline and the first run only"
    )
    parser.add_argument("--no-many", action="store_true", help="skip the --many policies run")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", default="", help=argparse.SUPPRESS)
    parser.add_argument("--results", default="", help=argparse.SUPPRESS)
    parser.add_argument("--policies", type=int, default=14, help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="duckdb", help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.job = args.child
        child(args)
        return 0

    import duckdb

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    work = args.work or Path(tempfile.mkdtemp(prefix="match-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    say(f"match benchmark — {len(sizes)} sizes {sizes}, as of {AS_OF}, threads {args.threads} on each side,"
        f" median of {args.repeats} after a warm-up; duckdb {duckdb.__version__}; {os.cpu_count()} cores; {load()}")  # fmt: skip
    summary = []
    for n in sizes:
        say(f"\n=== {n:,} enterprises")
        t = time.perf_counter()
        path = work / f"w{n}.duckdb"
        if args.keep and path.exists():
            warehouse = f"duckdb://{path}"
            say(f"warehouse reused: {path}")
        else:
            path.unlink(missing_ok=True)
            warehouse = make_warehouse(path, n)
            say(f"warehouse (generate + load + index): {time.perf_counter() - t:.1f} s; {load()}")
        if args.only == "warehouse":
            continue
        many = n == max(sizes) and args.many > 14 and not args.no_many
        counts = ([] if args.only == "many" else [14]) + ([args.many] if many else [])
        for policies in counts if args.only in (None, "many") else []:
            res = work / f"r{n}-{policies}"
            shutil.rmtree(res, ignore_errors=True)
            say(f"-- {n:,} × {policies} policies = {n * policies:,} outcomes")
            wide = None
            if policies == 14 or args.many_baseline:
                wide = measure("wide", warehouse, res, policies=policies, threads=args.threads, repeats=args.repeats)  # fmt: skip
                show("baseline: DuckDB COPY, every row, all columns", wide)
            else:
                say("  baseline not timed (--no-many-baseline): no ratio for this run")
            first = measure("match", warehouse, res, policies=policies, threads=args.threads, repeats=args.repeats,
                            before=lambda res=res: shutil.rmtree(res, ignore_errors=True))  # fmt: skip
            show("run_matching, first run (no previous run)", first)
            first_sum = checksum(first["run"])  # old runs are removed as new ones come
            full = same = inc = None
            agree = agree_first = None  # not checked without the full and incremental runs
            if not args.no_incremental:
                full = measure("match", warehouse, res, policies=policies, threads=args.threads, full=True, repeats=args.repeats)  # fmt: skip
                show("run_matching --full (changed vs previous)", full)
                ref_full = checksum(full["run"])
                same = measure("match", warehouse, res, policies=policies, threads=args.threads, repeats=args.repeats)  # fmt: skip
                show(f"incremental, nothing changed ({same['reused']} reused)", same)
                inc = measure("match", warehouse, res, policies=policies, threads=args.threads, repeats=args.repeats,
                              before=lambda w=warehouse: touch_share(w, 100))  # fmt: skip
                show(f"incremental, 1% changed ({inc['changed_entities']:,} entities)", inc)
                after_full = measure("match", warehouse, res, policies=policies, threads=args.threads, full=True, repeats=1)  # fmt: skip
                inc_sum = checksum(inc["run"]) if Path(inc["run"]).exists() else None
                agree = (
                    inc_sum == checksum(after_full["run"]) and inc["counts"] == after_full["counts"]
                )
                agree_first = first["counts"] == full["counts"] and first_sum == ref_full
                say(
                    f"  agreement: incremental == full after the change: {agree}; first == full rerun: {agree_first}"
                )
            if wide is not None:
                say(f"  first run / baseline = {first['wall'] / wide['wall']:.2f}× wall, {first['cpu'] / wide['cpu']:.2f}× CPU"
                    " (target ≤ 2×)")  # fmt: skip
            say(f"  kept rows {first['kept']:,} of {n * policies:,}")
            summary.append((n, policies, wide, first, full, same, inc,
                            None if agree is None else agree and agree_first))  # fmt: skip
            if args.spark and policies == 14:
                sres = work / f"s{n}"
                spark = measure("match", warehouse, sres, policies=14, threads=args.threads, engine="spark",
                                repeats=args.repeats, before=lambda s=sres: shutil.rmtree(s, ignore_errors=True))  # fmt: skip
                show(f"Spark local[{args.threads}], first run", spark)
                same_rows = (
                    spark["counts"] == first["counts"] and checksum(spark["run"]) == first_sum
                )
                say(
                    f"  Spark / DuckDB = {spark['wall'] / first['wall']:.2f}× wall; agreement with DuckDB: {same_rows}"
                )
        if args.only != "many":
            calc = bench_calculator(warehouse, args.lookups, args.repeats)
            say(f"calculator on the indexed warehouse, median of {args.repeats} runs of {args.lookups:,} random lookups:"
                f" explain p50 {calc['p50']:.2f} ms, p99 {calc['p99']:.2f} ms (target < 10 ms; the runs' p99 {calc['p99_runs']});"
                f" lookup alone p50 {calc['lookup_p50']:.2f} / p99 {calc['lookup_p99']:.2f} ms;"
                f" {calc['cpu_ms']:.2f} CPU-ms per explain; {load()}")  # fmt: skip
        if not args.keep:
            path.unlink()
    say("\n=== summary (wall s, CPU s in brackets)")
    for n, p, wide, first, full, same, inc, agree in summary:
        rest = "" if full is None else (f"  full {full['wall']:.2f}  incremental same {same['wall']:.2f}"
                                         f"  incremental 1% {inc['wall']:.2f}")  # fmt: skip
        peak = max(r["rss_gib"] for r in (first, full, inc) if r is not None)
        base = "not timed" if wide is None else f"{wide['wall']:.2f} [{wide['cpu']:.1f}]"
        ratio = "" if wide is None else f" ({first['wall'] / wide['wall']:.2f}×)"
        say(f"{n:>11,} × {p:3d}: baseline {base}  first {first['wall']:.2f} [{first['cpu']:.1f}]"
            f"{ratio}{rest}  peak {peak:.2f} GiB"
            f"  agree {'not checked' if agree is None else agree}")  # fmt: skip
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
