"""`zhixiang serve`: the application on one address, in one process or in several workers.

uvicorn's own `--workers` hands one listening socket to every process and whichever wakes first
takes the connection, so the load lands unevenly. On Linux each worker here gets a socket of its
own, all bound with SO_REUSEPORT to the same address: the kernel spreads new connections evenly
over them (by a hash of each connection's addresses and ports).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from zhixiang.errors import InvalidInput, ZhixiangError

APP = "zhixiang.api:create_app"
BACKLOG = 2048  # uvicorn's default
STOP_SECONDS = 10.0  # a worker still running this long after SIGTERM is killed


class ServerStopped(ZhixiangError):
    """A worker ended on its own: the others were stopped, the server is down."""

    exit_code = 1


class _Stop(Exception):
    """SIGTERM or SIGINT reached the parent: stop the workers and return."""


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    *,
    log_level: str = "info",
    access_log: bool = True,
) -> None:
    """Serve `create_app()` on host:port until SIGTERM or SIGINT.

    With several workers on Linux, one socket each with SO_REUSEPORT (see the module's docstring);
    elsewhere uvicorn's own workers. Raises `ServerStopped` when a worker dies on its own.
    """
    import uvicorn

    if workers < 1:
        raise InvalidInput("工作进程数至少为 1", "workers")
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": access_log,
    }
    if workers == 1:
        from zhixiang.api import create_app

        uvicorn.run(create_app(), **options)
        return
    _migrate_once()
    if sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT"):
        _supervise(_bind(host, port, workers), options)
    else:
        uvicorn.run(APP, factory=True, workers=workers, **options)


def _migrate_once() -> None:
    """Migrate the databases every worker opens at start, here, before any worker exists: a
    migration that fails stops the server once, with its own message, instead of killing N workers.
    (Workers that migrate together are safe too: `zhixiang.db.migrate` lets one at a time.)"""
    from zhixiang.access import open_access
    from zhixiang.config import load_settings
    from zhixiang.tickets import open_store

    settings = load_settings()
    open_access(settings.access_db).close()
    open_store(settings.tickets_url, with_classifier=False, settings=settings).close()


def _bind(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on one address, each with SO_REUSEPORT."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sockets: list[socket.socket] = []
    try:
        # Another server on the port, even one of ours with SO_REUSEPORT, refuses this bind: else
        # the kernel would silently share the port between the two servers.
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
        for _ in range(count):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            address = sock.getsockname()  # port 0: the others join the port the first was given
            sock.listen(BACKLOG)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise InvalidInput(f"无法监听 {host}:{port}：{exc.strerror}", "port") from None
    return sockets


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signum)


def _supervise(sockets: list[socket.socket], options: dict[str, Any]) -> None:
    """One worker process per socket; return on SIGTERM/SIGINT, raise when a worker dies."""
    spawn = multiprocessing.get_context("spawn")
    workers: list[BaseProcess] = []
    handled = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, _raise_stop) for sig in handled}
    try:
        for number, sock in enumerate(sockets, 1):
            worker = spawn.Process(
                target=_work, args=(sock, options, os.getpid()), name=f"zhixiang-worker-{number}"
            )
            worker.start()
            workers.append(worker)
        for sock in sockets:
            sock.close()  # each worker holds its own now; a dead worker's socket closes with it
        ended = wait([w.sentinel for w in workers])
        dead = next(w for w in workers if w.sentinel in ended)
        dead.join()
        raise ServerStopped(
            f"工作进程 {dead.pid} 意外退出（{_how(dead.exitcode)}），其余工作进程已停止"
        )
    except _Stop:
        return
    finally:
        for sig in handled:
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the stopping
        _stop(workers)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop(workers: list[BaseProcess]) -> None:
    """SIGTERM to every worker (uvicorn finishes the requests under way), SIGKILL if it lingers."""
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(STOP_SECONDS)
        if worker.is_alive():
            worker.kill()
            worker.join()


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"信号 {signal.Signals(-exitcode).name}"
    return f"退出码 {exitcode}"


def _work(sock: socket.socket, options: dict[str, Any], parent: int) -> None:
    """One worker: the application on its own socket, ending when the parent does."""
    import uvicorn

    _end_with_parent(parent)
    config = uvicorn.Config(APP, factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


def _end_with_parent(parent: int) -> None:
    """Ask Linux for SIGTERM when the parent dies, so a killed parent leaves no worker behind."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


__all__ = ["ServerStopped", "serve"]
