"""`zhixiang serve --workers 2` for real: one SO_REUSEPORT socket per worker, a clean stop on
SIGTERM, and the whole server down (non-zero) when a worker dies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from zhixiang.api._serve import _bind
from zhixiang.errors import InvalidInput

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT: Linux")

STARTUP_SECONDS = 60.0  # a loaded machine may take long to import the application


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds:.0f} s: {what}")
        time.sleep(0.05)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _workers(parent: int) -> list[int]:
    """The parent's worker processes (multiprocessing's resource tracker is no worker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if ppid == parent and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return sorted(found)


def _listening_sockets(port: int) -> set[str]:
    """Inodes of the sockets listening on 127.0.0.1:port (state 0A in /proc/net/tcp)."""
    local = f"0100007F:{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return {f[9] for f in (r.split() for r in rows) if f[1] == local and f[3] == "0A"}


def _sockets_of(pid: int) -> set[str]:
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(target[8:-1])
    return held


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def server(home: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`python -m zhixiang.cli serve --workers 2` on a free port, healthy, over a fresh home."""
    port = _free_port()
    log = (home / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "zhixiang.cli", "serve", "--port", str(port), "--workers", "2",
         "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _until(lambda: _healthy(port) or process.poll() is not None, STARTUP_SECONDS, "healthy")
        assert process.poll() is None, (home / "serve.log").read_text()
        _until(lambda: len(_workers(process.pid)) == 2, 10, "two workers")
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


@pytest.mark.slow
def test_two_workers_each_listen_on_their_own_socket_and_stop_cleanly_on_sigterm(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = server
    assert all(_healthy(port) for _ in range(8))
    workers = _workers(process.pid)
    assert len(set(workers)) == 2
    listening = _listening_sockets(port)
    assert len(listening) == 2  # uvicorn's own --workers would share one socket
    assert all(len(_sockets_of(pid) & listening) == 1 for pid in workers)
    assert not _sockets_of(process.pid) & listening  # the parent keeps none: no dead socket
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert all(_gone(pid) for pid in workers)


@pytest.mark.slow
def test_a_killed_worker_stops_the_server_with_a_non_zero_exit(
    server: tuple[subprocess.Popen[bytes], int], home: Path
) -> None:
    process, _ = server
    killed, other = _workers(process.pid)
    os.kill(killed, signal.SIGKILL)
    assert process.wait(timeout=15) != 0
    _until(lambda: _gone(other), 5, "the other worker stopped")
    assert f"工作进程 {killed} 意外退出（信号 SIGKILL）" in (home / "serve.log").read_text()


def test_a_port_already_served_is_refused_even_by_another_reuseport_server() -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(InvalidInput, match=f"无法监听 127.0.0.1:{port}") as refused:
            _bind("127.0.0.1", port, 2)
        assert refused.value.field == "port"


def test_one_worker_is_the_plain_server_and_off_linux_uvicorns_own_workers_serve(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from fastapi import FastAPI

    from zhixiang.api import serve

    calls: list[tuple[object, dict[str, object]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    with monkeypatch.context() as elsewhere:
        elsewhere.setattr(sys, "platform", "darwin")
        serve("127.0.0.1", 8123, 3)
    assert (home / "tickets.db").exists() and (home / "access.db").exists()  # migrated first
    serve("127.0.0.1", 8123, 1)
    (factory, several), (one, single) = calls
    assert factory == "zhixiang.api:create_app"
    assert several["factory"] is True and several["workers"] == 3 and several["port"] == 8123
    assert isinstance(one, FastAPI) and "workers" not in single
