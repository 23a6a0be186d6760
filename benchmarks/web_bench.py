"""Page latency of the workbench, in-process, at three ticket counts (run by hand, never in CI).

For each size: seed that many tickets through the ticket store, then render the main pages with
FastAPI's TestClient (no network, no browser) and report the median of 3 timed runs after one
warm-up, wall and CPU time, beside the JSON API's own answer for the same data (the baseline), and
check that the dashboard counted every ticket the store holds (agreement).

    .venv/bin/python benchmarks/web_bench.py --sizes 300 1000 3000
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

PAGES = ("/app/tickets", "/app/queues/center", "/app/dashboard?period=30", "/app/policies")
STREETS = ("350203003", "350203005", "350206001", "350211001", "350212001", "350213001")
TEXTS = (
    ("小区门口路灯不亮", "路灯坏了一个星期，晚上很黑。"),
    ("公司拖欠工资", "公司拖欠工资三个月，请劳动部门处理。"),
    ("工地夜间施工噪音", "工地每天夜里施工，影响休息。"),
    ("道路破损有坑", "路面有坑，电动车经过很危险。"),
)


def timed(call) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def median_of(call, runs: int = 3) -> tuple[float, float]:
    call()  # warm-up
    samples = [timed(call) for _ in range(runs)]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def measure(size: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="web-bench-"))
    os.environ["ZHIXIANG_HOME"] = str(home)
    from fastapi.testclient import TestClient

    from zhixiang.access import SYSTEM, Role, operator
    from zhixiang.api import create_app
    from zhixiang.tickets import TicketDraft
    from zhixiang.web._capabilities import store

    app = create_app()
    app.state.access.create_user(
        operator("bench"), "leader", "whole city view 4", [Role.LEADER], department="xm"
    )

    class _Request:
        pass

    request = _Request()
    request.app = app  # type: ignore[attr-defined]
    tickets = store(request)  # type: ignore[arg-type]
    caller = SYSTEM
    for i in range(size):
        title, body = TEXTS[i % len(TEXTS)]
        tickets.intake(
            caller, TicketDraft(title=f"{title}{i}", body=body, region_code=STREETS[i % 6])
        )
    client = TestClient(app, base_url="http://127.0.0.1")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post(
        "/login", data={"username": "leader", "password": "whole city view 4", "csrf_token": token}
    )
    dashboard = client.get("/app/dashboard?period=30").text
    counted = int(re.search(r'data-testid="ticket-count">(\d+)<', dashboard).group(1))
    agree = "yes" if counted == size else f"NO ({counted} of {size})"
    print(
        f"\n{size:,} tickets · dashboard counted them all: {agree} · load {os.getloadavg()[0]:.1f}"
    )
    for path in PAGES:
        wall, cpu = median_of(lambda path=path: client.get(path).raise_for_status())
        print(f"  {path:<28} wall {wall * 1000:8.1f} ms   cpu {cpu * 1000:8.1f} ms")
    wall, cpu = median_of(lambda: tickets.metrics(SYSTEM, *_last_30_days(), None))
    print(
        f"  {'baseline: store.metrics':<28} wall {wall * 1000:8.1f} ms   cpu {cpu * 1000:8.1f} ms"
    )


def _last_30_days():
    import datetime as dt

    until = dt.datetime.now(dt.UTC)
    return until - dt.timedelta(days=30), until


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000, 3000])
    for n in parser.parse_args().sizes:
        measure(n)
