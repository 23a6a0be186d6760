"""Drive the real server (uvicorn, SQLite) over loopback: intakes/s and p50/p99 for intake and queue reads.

    .venv/bin/python benchmarks/intake_bench.py [--intakes 4000] [--reads 4000] [--concurrency 16]

Targets on 2 cores with SQLite: ≥ 1,000 intakes/s, p99 < 100 ms. Texts are real 群众留言 from
../shared/data/taidi2020 (read, not copied); each intake has its own Idempotency-Key, a category
and a community code spread over the city's districts, so duplicate detection runs on real-shaped
candidates. The client is a minimal keep-alive HTTP/1.1 client so it takes as little CPU as possible
from the server on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zhixiang.tickets import TicketStore

DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "taidi2020" / "messages_labeled.csv"
)
DISTRICTS = ["350203", "350205", "350206", "350211", "350212", "350213"]


def _messages() -> list[tuple[str, str, str]]:
    with DATA.open(encoding="utf-8") as f:
        return [
            (r["留言主题"], " ".join(r["留言详情"].split()), r["一级分类"])
            for r in csv.DictReader(f)
        ]


def _payloads(count: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    messages = _messages()
    bodies = []
    for _ in range(count):
        title, body, category = rng.choice(messages)
        district = rng.choice(DISTRICTS)
        community = f"{district}{rng.randint(1, 12):03d}{rng.randint(1, 25):03d}"
        bodies.append(
            json.dumps(
                {
                    "title": title[:200],
                    "body": body[:5000],
                    "category": category,
                    "region_code": community,
                    "grid_id": f"{community[-6:]}-{rng.randint(1, 8)}",
                    "reporter_contact": f"13{rng.randint(0, 999999999):09d}",
                    "channel": "web",
                },
                ensure_ascii=False,
            ).encode()
        )
    return bodies


class Connection:
    """One keep-alive HTTP/1.1 connection; returns (status, body) per request."""

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


def _phase(name: str, pid: int, port: int, jobs: list, concurrency: int) -> None:
    """Run one phase and print throughput, latency, and the server's CPU per request.

    CPU per request does not depend on what else runs on the machine; throughput and latency do,
    so the load average is printed too.
    """
    cpu = _server_cpu(pid)
    elapsed, latencies, statuses = asyncio.run(_run(port, jobs, concurrency))
    cpu = _server_cpu(pid) - cpu
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(
        f"{name:<12} {len(ms):>6} requests in {elapsed:6.2f} s = {len(ms) / elapsed:8.1f}/s   "
        f"p50 {statistics.median(ms):6.1f} ms   p99 {p99:6.1f} ms   statuses {statuses}\n"
        f"{'':<12} server CPU {cpu:.2f} s = {cpu / len(ms) * 1000:.2f} ms per request "
        f"(≈ {len(ms) / cpu if cpu else float('nan'):.0f} per CPU-second)   "
        f"load average {os.getloadavg()[0]:.1f}"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--intakes", type=int, default=4000)
    parser.add_argument("--reads", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="zx-bench-"))
    url = f"sqlite:///{home / 'tickets.db'}"
    store = TicketStore(url)
    store.migrate()
    intake_key = store.create_key("intake", label="bench")[0]
    dept_key = store.create_key("department", "city-hrss", label="bench")[0]
    store.close()

    port = _free_port()
    env = {**os.environ, "ZHIXIANG_HOME": str(home), "ZHIXIANG_TICKETS_DB": url}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "zhixiang.api:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        warm = [("GET", "/requests/queues/city-hrss", {"X-API-Key": dept_key}, b"")] * 50
        asyncio.run(_run(port, warm, args.workers * 2))

        headers = {"X-API-Key": intake_key, "Content-Type": "application/json"}
        intakes = [
            ("POST", "/requests/tickets", {**headers, "Idempotency-Key": f"bench-{i}"}, body)
            for i, body in enumerate(_payloads(args.intakes))
        ]
        reads = [("GET", "/requests/queues/city-hrss?limit=20", {"X-API-Key": dept_key}, b"")]
        print(
            f"uvicorn workers={args.workers}, concurrency={args.concurrency}, cores={os.cpu_count()}, SQLite {url}"
        )
        _phase("intake", server.pid, port, intakes, args.concurrency)
        _phase("queue read", server.pid, port, reads * args.reads, args.concurrency)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
