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
from zhixiang.api import requires
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

#: Column headings as the data hub's own users say them.
LABELS = {
    "import_id": "导入批次",
    "source": "数据源",
    "department": "部门",
    "entity": "主体",
    "priority": "优先级",
    "format": "格式",
    "location": "位置",
    "imported_at": "导入时间",
    "status": "状态",
    "rows_read": "读取行数",
    "rows_loaded": "入库行数",
    "rows_quarantined": "隔离行数",
    "message": "说明",
    "row_number": "行号",
    "field": "字段",
    "label": "字段名",
    "reason": "原因",
    "value": "取值",
    "record": "原始记录",
    "filled": "已填",
    "invalid": "无效",
    "fill_rate": "填充率",
    "invalid_rate": "无效率",
    "age_days": "数据龄（天）",
    "seq": "序号",
    "at": "时间",
    "actor": "访问者",
    "purpose": "用途",
    "fields": "字段",
    "rows": "行数",
    "detail": "详情",
    "prev_hash": "前一条哈希",
    "hash": "哈希",
    "grant_id": "授权编号",
    "grantee": "被授权方",
    "grantee_kind": "类型",
    "valid_until": "有效期至",
    "clear": "可见明文",
    "granted_by": "授权人",
    "granted_at": "授权时间",
    "revoked_at": "撤销时间",
}
Sources = Annotated[Principal, requires("data.sources")]
Quarantine = Annotated[Principal, requires("data.quarantine")]
Quality = Annotated[Principal, requires("data.quality")]
Grants = Annotated[Principal, requires("data.grants.read")]
Audit = Annotated[Principal, requires("audit.read")]


@contextmanager
def _warehouse(request: Request) -> Iterator[Warehouse]:
    with open_warehouse(request.app.state.settings.warehouse_url) as wh:
        yield wh


def _columns(rows: list[dict]) -> list[tuple[str, str]]:
    return [(c, LABELS.get(c, c)) for c in (rows[0] if rows else {})]


def _table(request: Request, user: Principal, title: str, rows: list[dict], **ctx) -> Response:
    return render(
        request, "data/table.html", user=user, title=title, rows=rows, columns=_columns(rows), **ctx
    )


def _maybe_export(rows: list[dict], name: str, fmt: str | None) -> Response | None:
    return export(rows, _columns(rows), name, fmt) if fmt else None


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
    """质量 per field of each source: how much is filled and how much was invalid."""
    with _warehouse(request) as wh:
        report = quality_report(wh, None, suppress_small=True)
    rows = [
        {
            "source": source.source,
            "label": f.label,
            "field": f.field,
            "filled": f.filled,
            "invalid": f.invalid,
            "fill_rate": f.fill_rate,
            "invalid_rate": f.invalid_rate,
            "age_days": source.age_days,
        }
        for source in report
        for f in source.fields
    ]
    chart = {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 8, "right": 24, "bottom": 8, "top": 8, "containLabel": True},
        "xAxis": {"type": "value", "max": 100, "axisLabel": {"formatter": "{value}%"}},
        "yAxis": {"type": "category", "data": [f"{r['source']}·{r['label']}" for r in rows]},
        "series": [
            {
                "name": "填充率",
                "type": "bar",
                # A personal field's withheld rate (small counts) is a gap, not a bar.
                "data": [
                    None if f.fill_rate is None else round(100 * f.fill_rate, 1)
                    for source in report
                    for f in source.fields
                ],
            }
        ],
    }
    return _maybe_export(rows, "数据质量", format) or _table(
        request, user, "数据质量", rows, chart=chart, chart_height=max(240, 22 * len(rows))
    )


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
