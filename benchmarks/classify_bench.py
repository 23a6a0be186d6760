"""Classification throughput of the shipped model on one CPU core, over real citizen messages.

    .venv/bin/python benchmarks/classify_bench.py [--tickets 20000] [--model PATH]

Prints tickets/s for batches (the `classify` CLI, re-scoring) and for one ticket per call (how the
ticket service classifies at intake), plus p50/p99 latency of a single call. Target: ≥ 2,000 tickets/s.
Each rate is given by wall clock and by the process's CPU time: on a shared machine (load average
above the core count) other processes take turns on our core and only the CPU-time rate is ours.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from zhixiang.classify import default_training_data, load_model, read_messages

TARGET = 2_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000, help="tickets per batch run")
    parser.add_argument("--singles", type=int, default=5_000, help="one-ticket calls to time")
    parser.add_argument("--model", type=Path, default=None, help="model file (default: shipped)")
    parser.add_argument("--data", type=Path, default=None, help="message CSV (default: taidi2020)")
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    messages = read_messages(args.data or default_training_data())
    repeat = -(-args.tickets // len(messages.titles))
    titles = (messages.titles * repeat)[: args.tickets]
    bodies = (messages.bodies * repeat)[: args.tickets]
    mean_chars = sum(len(t) + len(b) for t, b in zip(titles, bodies, strict=True)) / len(titles)
    classifier = load_model(args.model)
    print(
        f"模型 {classifier.version}; {len(titles)} 条真实留言（平均 {mean_chars:.0f} 字）; 1 个 CPU 核"
    )

    classifier.predict(titles[:100], bodies[:100])  # warm up
    for batch in (1_000, len(titles)):
        wall, cpu = [], []
        for _ in range(3):
            started, started_cpu = time.perf_counter(), time.process_time()
            for i in range(0, len(titles), batch):
                classifier.predict(titles[i : i + batch], bodies[i : i + batch])
            wall.append(len(titles) / (time.perf_counter() - started))
            cpu.append(len(titles) / (time.process_time() - started_cpu))
        print(
            f"  批量 {batch:>6}/次: {statistics.median(wall):>7,.0f} tickets/s 墙钟, "
            f"{statistics.median(cpu):>7,.0f} tickets/s CPU 时间 (3 次中位数)"
        )

    latencies = []
    started_cpu = time.process_time()
    for title, body in zip(titles[: args.singles], bodies[: args.singles], strict=True):
        started = time.perf_counter()
        classifier.predict([title], [body])
        latencies.append(time.perf_counter() - started)
    single_cpu = len(latencies) / (time.process_time() - started_cpu)
    latencies.sort()
    single_wall = len(latencies) / sum(latencies)
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    print(
        f"  单条/次:        {single_wall:>7,.0f} tickets/s 墙钟, {single_cpu:>7,.0f} tickets/s CPU 时间;"
        f" p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for name, rate in (("墙钟", single_wall), ("CPU 时间", single_cpu)):
        verdict = "达标" if rate >= TARGET else "未达标"
        print(f"目标 ≥ {TARGET:,} tickets/s（单核, 单条/次, {name}）: {verdict}")
    print(f"1 分钟负载 {load:.1f}（{os.cpu_count()} 核）")


if __name__ == "__main__":
    main()
