"""数据 pages: sources and imports, quarantined rows (personal values redacted), quality per field,
grants, and the audit log with its chain verification — each as the data hub reports it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Request, Response

from zhixiang.access import Principal
from zhixiang.api._auth import requires
from zhixiang.datahub import (
    Warehouse,
    audit_records,
    list_grants,
    list_imports,
    open_warehouse,
    quality_report,
    quarantine_rows,
    verify_audit,
)
from zhixiang.web._app import render
from zhixiang.web._export import export

router = APIRouter(prefix="/app/data", include_in_schema=False)
Sources = Annotated[Principal, requires("data.sources")]
Quarantine = Annotated[Principal, requires("data.quarantine")]
Quality = Annotated[Principal, requires("data.quality")]
Grants = Annotated[Principal, requires("data.grants.read")]
Audit = Annotated[Principal, requires("audit.read")]


@contextmanager
def _warehouse(request: Request) -> Iterator[Warehouse]:
    with open_warehouse(request.app.state.settings.warehouse_url) as wh:
        yield wh


def _table(request: Request, user: Principal, title: str, rows: list[dict], **ctx) -> Response:
    columns = list(rows[0]) if rows else []
    return render(
        request, "data/table.html", user=user, title=title, rows=rows, columns=columns, **ctx
    )


def _maybe_export(rows: list[dict], name: str, fmt: str | None) -> Response | None:
    if not fmt:
        return None
    return export(rows, [(c, c) for c in (rows[0] if rows else {})], name, fmt)


@router.get("")
def sources(request: Request, user: Sources, format: str | None = None) -> Response:
    with _warehouse(request) as wh:
        rows = list_imports(wh, None, True).to_pylist()
    return _maybe_export(rows, "数据源与导入", format) or _table(
        request, user, "数据源与导入", rows
    )


@router.get("/quarantine")
def quarantine(request: Request, user: Quarantine, source: str | None = None) -> Response:
    with _warehouse(request) as wh:
        rows = quarantine_rows(wh, source, 500, redact_personal=True).to_pylist()
    return _table(request, user, "隔离数据（个人信息已遮蔽）", rows)


@router.get("/quality")
def quality(request: Request, user: Quality, format: str | None = None) -> Response:
    with _warehouse(request) as wh:
        rows = [asdict(r) for r in quality_report(wh, None)]
    flat = [{k: v for k, v in r.items() if not isinstance(v, list | dict)} for r in rows]
    return _maybe_export(flat, "数据质量", format) or _table(request, user, "数据质量", flat)


@router.get("/grants")
def grants(request: Request, user: Grants) -> Response:
    with _warehouse(request) as wh:
        rows = [asdict(g) for g in list_grants(wh, None)]
    return _table(request, user, "数据授权", rows)


@router.get("/audit")
def audit(request: Request, user: Audit) -> Response:
    with _warehouse(request) as wh:
        rows = audit_records(wh, 200).to_pylist()
        verified = asdict(verify_audit(wh)) if user.can("audit.verify") else None
    return _table(request, user, "审计日志", rows, verified=verified)
