"""Drive the real server (`zhixiang serve --workers N`, SQLite) over loopback: intakes/s and p50/p99,
with and without a category (without one the classifier runs), and queue reads.

    .venv/bin/python benchmarks/intake_bench.py [--sizes 1000,2000,4000] [--repeats 3] [--workers 2]
        [--previous /work/main/src]

Targets (issue 13): ≥ 1,500 intakes/s on SQLite with 2 workers with the classifier running, p99 <
100 ms. Texts are real 群众留言 from ../shared/data/taidi2020 (read, not copied); each intake has its
own Idempotency-Key and a real street/community code of 厦门市, so duplicate detection runs on
real-shaped candidates. The client is a minimal keep-alive HTTP/1.1 client so it takes as little CPU
as possible from the server on the same machine.

Every figure is the median of `--repeats` runs (fresh server and database each, after a warm-up),
with the server's CPU time per request beside wall-clock throughput and the load average (the
machine is shared: throughput depends on what else runs, CPU per request much less). Three sizes
show how cost grows as the store fills. The baseline is the same store called in-process (no HTTP)
on the same payloads (median of `--repeats`, CPU time); its routing decisions must agree with the
server's ticket for ticket. `--previous SRC` times the same in-process store from other sources (the
code before a change) on the same payloads in the same run, and requires the same decisions,
duplicate proposals included.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zhixiang.access import Principal, PrincipalKind, Role, open_access, operator
from zhixiang.config import load_settings
from zhixiang.identity import region_code_table

DATA = load_settings().shared_data_dir / "taidi2020" / "messages_labeled.csv"
DISTRICTS = ("350203", "350205", "350206", "350211", "350212", "350213")


def _messages() -> list[tuple[str, str, str]]:
    with DATA.open(encoding="utf-8") as f:
        return [
            (r["留言主题"] or r["留言详情"][:20], " ".join(r["留言详情"].split()), r["一级分类"])
            for r in csv.DictReader(f)
            if r["留言详情"].strip()
        ]


def _streets() -> list[str]:
    table = region_code_table()
    return [
        code
        for code, parent in zip(table["code"].to_pylist(), table["parent"].to_pylist(), strict=True)
        if parent in DISTRICTS and len(code) == 9
    ]


def _payloads(count: int, with_category: bool, seed: int) -> list[dict]:
    rng = random.Random(seed)
    messages, streets = _messages(), _streets()
    out = []
    for _ in range(count):
        title, body, category = rng.choice(messages)
        community = f"{rng.choice(streets)}{rng.randint(1, 25):03d}"
        payload = {
            "title": title[:200],
            "body": body[:5000],
            "region_code": community,
            "grid_id": f"{community[-6:]}-{rng.randint(1, 8)}",
            "reporter_contact": f"13{rng.randint(0, 999999999):09d}",
            "channel": "web",
        }
        if with_category:
            payload["category"] = category
        out.append(payload)
    return out


class Connection:
    """One keep-alive HTTP/1.1 connection; returns the status per request."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> int:
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(head.encode() + b"\r\n" + body)
        status_line = await self.reader.readuntil(b"\r\n")
        length = 0
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])


async def _run(
    port: int, jobs: list[tuple[str, str, dict[str, str], bytes]], concurrency: int
) -> tuple[float, list[float], dict[int, int]]:
    queue: asyncio.Queue[tuple[str, str, dict[str, str], bytes]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker() -> None:
        conn = Connection(*await asyncio.open_connection("127.0.0.1", port))
        while not queue.empty():
            method, path, headers, body = queue.get_nowait()
            began = time.perf_counter()
            status = await conn.request(method, path, headers, body)
            latencies.append(time.perf_counter() - began)
            statuses[status] = statuses.get(status, 0) + 1
        conn.writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began, latencies, statuses


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the server and its worker processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _phase(pid: int, port: int, jobs: list, concurrency: int, expected: int) -> dict[str, float]:
    cpu = _server_cpu(pid)
    elapsed, latencies, statuses = asyncio.run(_run(port, jobs, concurrency))
    cpu = _server_cpu(pid) - cpu
    if set(statuses) != {expected}:
        raise SystemExit(f"unexpected statuses {statuses} (expected only {expected})")
    ms = sorted(x * 1000 for x in latencies)
    return {
        "rate": len(ms) / elapsed,
        "p50": statistics.median(ms),
        "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))],
        "cpu_ms": cpu / len(ms) * 1000,
        "load": os.getloadavg()[0],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _jobs(payloads: list[dict], key: str, prefix: str) -> list:
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    return [
        (
            "POST",
            "/requests/tickets",
            {**headers, "Idempotency-Key": f"{prefix}-{i}"},
            json.dumps(p, ensure_ascii=False).encode(),
        )
        for i, p in enumerate(payloads)
    ]


def _decisions(db: Path) -> dict[str, tuple[str, str | None, str | None]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT idempotency_key, status, department, category FROM tickets"
            " WHERE idempotency_key IS NOT NULL"
        )
        return {k: (s, d, c) for k, s, d, c in rows}


def one_run(size: int, workers: int, concurrency: int, seed: int) -> tuple[dict, Path]:
    home = Path(tempfile.mkdtemp(prefix="zx-bench-"))
    env = {**os.environ, "ZHIXIANG_HOME": str(home)}
    env.pop("ZHIXIANG_TICKETS_DB", None)
    env.pop("ZHIXIANG_ACCESS_DB", None)
    os.environ["ZHIXIANG_HOME"] = str(home)
    access = open_access(f"sqlite:///{home / 'access.db'}")
    agent = access.create_key(operator("bench"), ["agent"], label="bench", department="center")[0]
    handler = access.create_key(
        operator("bench"), ["handler"], label="bench", department="city-hrss"
    )[0]
    access.close()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "zhixiang.cli", "serve",
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--log-level", "warning", "--no-access-log"],
        env=env,
    )  # fmt: skip
    try:
        started = time.monotonic()
        while True:  # a loaded machine may take minutes to import the app
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() - started > 600:
                    raise SystemExit("the server did not start (see its output above)") from None
                time.sleep(0.2)
        warm = _jobs(_payloads(200, True, seed + 99), agent, "warm")
        warm += _jobs(_payloads(100, False, seed + 98), agent, "warm-model")
        asyncio.run(_run(port, warm, concurrency))
        results = {
            "intake (category given)": _phase(
                server.pid, port, _jobs(_payloads(size, True, seed), agent, "c"), concurrency, 201
            ),
            "intake (classifier runs)": _phase(
                server.pid,
                port,
                _jobs(_payloads(size, False, seed + 1), agent, "m"),
                concurrency,
                201,
            ),
            "queue read (20)": _phase(
                server.pid,
                port,
                [("GET", "/requests/queues/city-hrss?limit=20", {"X-API-Key": handler}, b"")]
                * size,
                concurrency,
                200,
            ),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results, home / "tickets.db"


def baseline(size: int, seed: int) -> tuple[dict[str, float], dict[str, tuple]]:
    """The same store called in-process, on the same payloads: CPU per intake and its decisions
    (status, department, category and the proposed duplicate: one caller, so deterministic)."""
    from zhixiang.classify import load_model
    from zhixiang.tickets import TicketDraft, TicketStore

    home = Path(tempfile.mkdtemp(prefix="zx-base-"))
    store = TicketStore(f"sqlite:///{home / 't.db'}", classifier=load_model())
    store.migrate()
    caller = Principal(PrincipalKind.KEY, "base", "base", frozenset({Role.AGENT}), "center")
    for i, p in enumerate(_payloads(200, True, seed + 99)):
        store.intake(caller, TicketDraft(**p), f"warm-{i}")
    for i, p in enumerate(_payloads(100, False, seed + 98)):
        store.intake(caller, TicketDraft(**p), f"warm-model-{i}")
    figures = {}
    for name, prefix, with_category, offset in (
        ("intake (category given)", "c", True, 0),
        ("intake (classifier runs)", "m", False, 1),
    ):
        drafts = [TicketDraft(**p) for p in _payloads(size, with_category, seed + offset)]
        began = time.process_time()
        for i, d in enumerate(drafts):
            store.intake(caller, d, f"{prefix}-{i}")
        figures[name] = (time.process_time() - began) / size * 1000
    store.close()
    with sqlite3.connect(home / "t.db") as conn:
        rows = conn.execute(
            "SELECT t.idempotency_key, t.status, t.department, t.category, d.idempotency_key"
            " FROM tickets t LEFT JOIN tickets d ON d.id = t.duplicate_of"
            " WHERE t.idempotency_key IS NOT NULL"
        )
        decisions = {k: (s, d, c, dup) for k, s, d, c, dup in rows}
    return figures, decisions


def previous(src: str, size: int, seed: int) -> tuple[dict[str, float], dict[str, tuple]]:
    """`baseline` run by another checkout's sources (the previous implementation), same payloads."""
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, __file__, "--in-process", str(size), "--seed", str(seed)],
        env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    figures, decisions = json.loads(out.splitlines()[-1])
    return figures, {k: tuple(v) for k, v in decisions.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,2000,4000", help="intakes per phase, per size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--workers", type=int, default=2, help="server worker processes (zhixiang serve --workers)"
    )
    parser.add_argument(
        "--previous", metavar="SRC", help="also time the in-process store of these sources "
        "(e.g. /work/main/src before a change) on the same payloads, and compare its decisions",
    )  # fmt: skip
    parser.add_argument("--in-process", type=int, metavar="SIZE", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=7, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:  # the child of `previous`: figures and decisions as one JSON line
        print(json.dumps(baseline(args.in_process, args.seed), ensure_ascii=False))
        return
    if not DATA.exists():
        raise SystemExit(f"needs the real messages at {DATA} (set ZHIXIANG_SHARED_DATA)")
    print(
        f"zhixiang serve --workers {args.workers}, concurrency={args.concurrency}, "
        f"cores={os.cpu_count()}, SQLite; median of {args.repeats} runs; load average at start "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (shared machine)"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        runs, dbs = [], []
        for r in range(args.repeats):
            result, db = one_run(size, args.workers, args.concurrency, seed=7)
            runs.append(result)
            dbs.append(db)
            print(f"  size {size} run {r + 1}: " + ", ".join(
                f"{k} {v['rate']:.0f}/s p99 {v['p99']:.0f} ms" for k, v in result.items()
            ), flush=True)  # fmt: skip
        bases = [baseline(size, seed=7) for _ in range(args.repeats)]
        base = {k: statistics.median(b[0][k] for b in bases) for k in bases[0][0]}
        decisions = bases[0][1]
        served = _decisions(dbs[0])
        total = sum(1 for k in decisions if not k.startswith("warm"))
        agree = sum(
            served.get(k) == v[:3] for k, v in decisions.items() if not k.startswith("warm")
        )
        print(f"size {size}: server and in-process store agree on {agree}/{total} tickets")
        if args.previous:
            olds = [previous(args.previous, size, seed=7) for _ in range(args.repeats)]
            old = {k: statistics.median(b[0][k] for b in olds) for k in olds[0][0]}
            same = sum(olds[0][1].get(k) == v for k, v in decisions.items())
            print(
                f"size {size}: previous implementation ({args.previous}) and this one agree on "
                f"{same}/{len(decisions)} tickets (status, department, category, duplicate "
                "proposed)"
            )
            if same != len(decisions):
                raise SystemExit("the previous implementation decided differently")
        for name in runs[0]:
            med = {k: statistics.median(run[name][k] for run in runs) for k in runs[0][name]}
            ratio = f"   in-process {base[name]:.2f} ms CPU" if name in base else ""
            if args.previous and name in old:
                ratio += f" (previous {old[name]:.2f} ms, {old[name] / base[name]:.1f}×)"
            print(
                f"  {name:<26} {med['rate']:7.0f}/s  p50 {med['p50']:5.1f} ms  p99 "
                f"{med['p99']:6.1f} ms  server CPU {med['cpu_ms']:.2f} ms/request{ratio}  "
                f"load {med['load']:.1f}"
            )
        if agree != total:
            raise SystemExit("the server's routing decisions differ from the in-process store's")


if __name__ == "__main__":
    main()
