"""Request-size limits on every route, and an access log that never records personal identifiers.

`BodyLimit` is plain ASGI middleware: a declared `Content-Length` over the route's limit is refused
with 413 before a byte of the body is read; a body without one (chunked) is counted as it arrives
and refused the moment it passes the limit, so a 50 MB upload costs the server at most the limit.
Starlette's 413 ("Content Too Large") is answered in Chinese by `create_app`'s handler.
The refusal never echoes what was sent.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.middleware.body_limit import RequestBodyLimitMiddleware

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class RouteLimit:
    """A larger (or smaller) body limit for requests whose method and path match."""

    method: str
    path: re.Pattern[str]
    max_bytes: int


def too_large_message(limit: int) -> str:
    shown = f"{limit / 1_000_000:g} MB" if limit >= 1_000_000 else f"{limit} 字节"
    return f"请求体过大：此接口上限 {shown}"


class BodyLimit:
    """Refuse request bodies over `default` bytes (or a matching route's own limit) with 413.

    A declared length is checked here, before the app runs; the bytes of a body as they arrive are
    counted by Starlette's `RequestBodyLimitMiddleware` (which FastAPI knows how to pass through).
    """

    def __init__(
        self,
        app: ASGIApp,
        default: int,
        routes: Sequence[RouteLimit] = (),
        pages: re.Pattern[str] | None = None,
    ) -> None:
        self.app = app
        self.default = default
        self.routes = tuple(routes)
        # Paths of pages (a browser's forms): they are refused with a short page, not JSON.
        self.pages = pages
        self._counted = {
            limit: RequestBodyLimitMiddleware(app, limit)
            for limit in {default, *(r.max_bytes for r in self.routes)}
        }

    def limit_for(self, method: str, path: str) -> int:
        for route in self.routes:
            if route.method == method and route.path.fullmatch(path):
                return route.max_bytes
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                await _refuse(send, 400, "Content-Length 不是整数")
                return
            if too_big:
                page = self.pages is not None and self.pages.fullmatch(scope["path"]) is not None
                await _refuse(send, 413, too_large_message(limit), page)
                return
        await self._counted[limit](scope, receive, send)


async def _refuse(send: Send, status: int, detail: str, page: bool = False) -> None:
    if page:
        body = (
            '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>提交的内容过大</title>'
            f'<p role="alert">提交的内容过大。{html.escape(detail)}。请返回上一页删减后重试。</p></html>'
        ).encode()
        kind = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
        kind = b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", kind),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- the access log ---------------------------------------------------------------------------------

#: Query parameters whose values are never logged: entity keys (身份证号) and credentials.
SECRET_PARAMS = frozenset({"key", "api_key", "id_number", "token"})


def redacted_target(target: str, scrub: Callable[[str], str]) -> str:
    """A request target (path?query) fit for a log: secret parameters' values replaced by `***`,
    identifiers anywhere else masked by `scrub`."""
    path, sep, query = target.partition("?")
    if not sep:
        return scrub(path)
    pairs = [
        (name, "***" if name in SECRET_PARAMS else value)
        for name, value in parse_qsl(query, keep_blank_values=True)
    ]
    return scrub(path) + "?" + scrub(urlencode(pairs, safe="*"))


class RedactedAccessLog(logging.Filter):
    """For uvicorn's access logger, whose record args are (client, method, target, version, status)."""

    def __init__(self, scrub: Callable[[str], str]) -> None:
        super().__init__("zhixiang-redacted-access-log")
        self.scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redacted_target(args[2], self.scrub), *args[3:])
        return True


def redact_access_log(scrub: Callable[[str], str], logger: str = "uvicorn.access") -> None:
    """Install the filter once on the access logger (create_app may run many times in a process)."""
    log = logging.getLogger(logger)
    if not any(isinstance(f, RedactedAccessLog) for f in log.filters):
        log.addFilter(RedactedAccessLog(scrub))
