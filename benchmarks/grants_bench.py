"""Propose and approve one grant batch of N eligible lines; then a rerun, which must write nothing.

    .venv/bin/python benchmarks/grants_bench.py [--lines 100000,300000,1000000] [--runs 3] [--url …]

Each run starts from an empty ledger (SQLite file in a temporary folder unless --url names a
PostgreSQL database, whose grant tables are dropped first), proposes a 直接兑现 batch of N lines and
approves it as another person (lines → 已确认, one notice per line), then proposes again from the
same eligible list. Printed: lines/s by wall clock and by CPU time of this process (the database
is embedded, so SQLite's work is in it), median of the runs after a 100,000-line warm-up, and the
load average, for each size given. Agreement: N lines, N distinct keys, N notices, the exact total,
the batch view's counts equal to a fresh count, the UNIQUE index on the key still there and
refusing a second award, and a rerun that leaves every table's row count unchanged. Baseline in
the same run: the same lines inserted through SQLAlchemy Core `insert()` with a list of dicts (the
usual way), on 100,000 lines.
Target (issue 8): ≥ 200,000 lines/s for propose + approve. The machine is shared: read the load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from zhixiang.access import Principal, PrincipalKind, Role
from zhixiang.demo import demo_policies_dir
from zhixiang.grants import GrantLedger
from zhixiang.rules import load_policies

TARGET = 200_000
OFFICER = Principal(PrincipalKind.USER, "bench-officer", roles=frozenset({Role.POLICY_ADMIN}))
REVIEWER = Principal(PrincipalKind.USER, "bench-reviewer", roles=frozenset({Role.REVIEWER}))
POLICY = load_policies([demo_policies_dir()]).by_id("specialized-sme-award")


def eligible(n: int) -> dict[str, Decimal]:
    return {f"91350200MA{i:08d}": Decimal("300000") + i % 7 for i in range(n)}


def fresh(url: str | None, folder: Path, name: str) -> GrantLedger:
    if url is None:
        ledger = GrantLedger(f"sqlite:///{folder / name}")
    else:
        from sqlalchemy import text

        ledger = GrantLedger(url)
        with ledger.engine.begin() as c:
            for table in (
                "gr_events",
                "gr_notices",
                "gr_exports",
                "gr_objections",
                "gr_lines",
                "gr_accounts",
                "gr_batches",
                "grants_alembic_version",
            ):
                c.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    ledger.migrate()
    return ledger


def one_run(url: str | None, folder: Path, n: int, name: str) -> dict[str, float]:
    rows = eligible(n)
    ledger = fresh(url, folder, name)
    wall, cpu = time.perf_counter(), time.process_time()
    proposal = ledger.propose(
        POLICY, "2026", rows, OFFICER, run_id="bench", as_of=date(2026, 6, 30)
    )
    assert proposal.batch is not None
    mid_wall = time.perf_counter()
    batch = ledger.approve(proposal.batch.id, REVIEWER)
    end_wall, end_cpu = time.perf_counter(), time.process_time()
    counts = ledger.counts()
    # agreement: every line once, every notice once, the exact total
    assert batch.by_status == {"已确认": n}, batch.by_status
    assert counts["gr_lines"] == n and counts["gr_notices"] == n
    assert batch.total == sum(rows.values())
    with ledger.engine.connect() as c:
        from sqlalchemy import text

        keys = c.execute(text("SELECT count(DISTINCT entity_id) FROM gr_lines")).scalar_one()
    assert keys == n
    assert ledger.batch(batch.id).by_status == batch.by_status  # the view's counts are real
    with ledger.engine.connect() as c:  # never pays twice: the key is still UNIQUE after the load
        from sqlalchemy import text
        from sqlalchemy.exc import IntegrityError

        try:
            c.execute(
                text(
                    "INSERT INTO gr_lines (batch_id, policy_id, period, entity_id, kind, amount_fen,"
                    " status) VALUES (:b, :p, '2026', :e, 'award', 1, '待确认')"
                ),
                {"b": batch.id, "p": POLICY.id, "e": next(iter(rows))},
            )
            raise AssertionError("a second award for the same key was accepted")
        except IntegrityError:
            c.rollback()
    rerun_wall, rerun_cpu = time.perf_counter(), time.process_time()
    again = ledger.propose(POLICY, "2026", rows, OFFICER, run_id="bench", as_of=date(2026, 6, 30))
    rerun_wall, rerun_cpu = time.perf_counter() - rerun_wall, time.process_time() - rerun_cpu
    assert again.batch is None and ledger.counts() == counts, "a rerun must write nothing"
    ledger.dispose()
    return {
        "propose_wall": mid_wall - wall,
        "approve_wall": end_wall - mid_wall,
        "wall": end_wall - wall,
        "cpu": end_cpu - cpu,
        "rerun_wall": rerun_wall,
        "rerun_cpu": rerun_cpu,
    }


def baseline(folder: Path, n: int) -> float:
    """Lines/s of a plain SQLAlchemy Core insert of dicts into the same table (no ledger logic)."""
    from sqlalchemy import insert

    from zhixiang.grants._tables import lines

    ledger = fresh(None, folder, "baseline.db")
    with ledger.engine.begin() as c:
        from zhixiang.grants._tables import batches

        c.execute(
            insert(batches).values(
                id=1,
                policy_id="p",
                period="2026",
                kind="grant",
                delivery="直接兑现",
                policy_title="p",
                policy={},
                eligible=n,
                lines=n,
                total_fen=0,
                held={},
                status="proposed",
                proposed_by="b",
                proposed_at=datetime.now(),
                notice_days=0,
            )
        )
    rows = [
        {
            "batch_id": 1,
            "policy_id": "p",
            "period": "2026",
            "entity_id": e,
            "kind": "award",
            "amount_fen": 30_000_000,
            "status": "待确认",
        }
        for e in eligible(n)
    ]
    started = time.perf_counter()
    with ledger.engine.begin() as c:
        c.execute(insert(lines), rows)
    seconds = time.perf_counter() - started
    ledger.dispose()
    return n / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", default="1000000", help="sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--url", default=None, help="PostgreSQL URL (default: SQLite, temporary)")
    args = parser.parse_args()
    sizes = [int(x) for x in args.lines.split(",")]
    print(f"load average before: {os.getloadavg()}; {os.cpu_count()} cores (shared machine)")
    with tempfile.TemporaryDirectory(prefix="grants-bench-") as tmp:
        folder = Path(tmp)
        one_run(args.url, folder, 100_000, "warmup.db")
        base = baseline(folder, 100_000)
        print(
            f"baseline (SQLAlchemy Core insert of dicts, insert only, 100,000 lines): "
            f"{base:,.0f} lines/s; load {os.getloadavg()[0]:.2f}"
        )
        for n in sizes:
            results = [one_run(args.url, folder, n, f"run{n}-{i}.db") for i in range(args.runs)]
            wall = statistics.median(r["wall"] for r in results)
            cpu = statistics.median(r["cpu"] for r in results)
            print(
                f"{n:,} lines, {args.runs} runs (median), {'PostgreSQL' if args.url else 'SQLite'}"
            )
            for r in results:
                print(
                    f"  propose {r['propose_wall']:.2f}s + approve {r['approve_wall']:.2f}s = "
                    f"{r['wall']:.2f}s wall, {r['cpu']:.2f}s CPU; rerun {r['rerun_wall']:.2f}s "
                    f"wall, {r['rerun_cpu']:.2f}s CPU, wrote nothing"
                )
            print(
                f"propose+approve: {n / wall:,.0f} lines/s wall, {n / cpu:,.0f} lines/s CPU "
                f"(target {TARGET:,}: {'met' if n / wall >= TARGET else 'not met'} by wall clock, "
                f"{'met' if n / cpu >= TARGET else 'not met'} by CPU); load {os.getloadavg()}"
            )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
