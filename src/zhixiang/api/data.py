"""数据按需共享 REST API: catalog, sources, quarantine, quality, grants, reads under grant, audit check.

Thin: each route authenticates with the platform's API keys (X-API-Key, issued by
`zhixiang access keys create`), calls `zhixiang.datahub` and returns its values. The caller's
department is the reader whose grants apply; every read of internal or personal data is audited
by the data hub. What a route shows beyond the entity reads is for those whose duty needs it:
quarantine and imports for data officers, grants and the audit log for data officers (their own
department's) and system administrators; personal values never appear in either.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from zhixiang.access import Principal
from zhixiang.api._auth import public, requires
from zhixiang.config import Settings
from zhixiang.datahub import (
    Grant,
    Mapping,
    Warehouse,
    audit_log,
    create_grant,
    data_catalog,
    import_sources,
    list_grants,
    list_imports,
    load_mapping,
    open_warehouse,
    quality_report,
    quarantine_rows,
    read_entities,
    redact_quarantine,
    revoke_grant,
    verify_audit,
)
from zhixiang.errors import Forbidden, InvalidInput, NotFound

router = APIRouter(prefix="/data", tags=["数据按需共享"])
Caller = Annotated[Principal, requires("data.read")]
#: Imports and grants change what everyone may see: only a data officer may make them.
Officer = Annotated[Principal, requires("data.import")]
Granter = Annotated[Principal, requires("data.grant")]


def get_warehouse(request: Request) -> Iterator[Warehouse]:
    with open_warehouse(request.app.state.settings.warehouse_url) as wh:
        yield wh


WarehouseDep = Annotated[Warehouse, Depends(get_warehouse)]


def reader_of(caller: Principal) -> str:
    """Grants name departments; a caller without one reads as itself."""
    return caller.department or caller.id


def _rows(table: Any) -> list[dict]:
    return table.to_pylist()


@router.get("/catalog")
def catalog(_: Annotated[Principal, public()], entity: str | None = None) -> list[dict]:
    """Every field with owner department and sensitivity; metadata only, open to all.
    An entity that is not one of the known kinds is 404."""
    return [asdict(e) for e in data_catalog(entity)]


@router.get("/sources")
def sources(
    caller: Annotated[Principal, requires("data.sources")], wh: WarehouseDep, history: bool = False
) -> list[dict]:
    return _rows(list_imports(wh, None, history))


@router.get("/quarantine")
def quarantine(
    caller: Annotated[Principal, requires("data.quarantine")],
    wh: WarehouseDep,
    source: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[dict]:
    """Quarantined cells; personal values, person rows and ID numbers in reasons are withheld."""
    return _rows(quarantine_rows(wh, source, limit, redact_personal=True))


@router.get("/quality")
def quality(
    caller: Annotated[Principal, requires("data.quality")],
    wh: WarehouseDep,
    source: str | None = None,
) -> list[dict]:
    """Fill and error rates per field; counts of fewer than 5 people in personal fields withheld."""
    return [asdict(r) for r in quality_report(wh, source, suppress_small=True)]


class ImportRequest(BaseModel):
    mappings: list[str] = Field(
        max_length=100,
        description="映射文件路径，须位于平台数据目录（ZHIXIANG_HOME/data）下；一次导入全部成功或全部不变",
    )


def import_root(settings: Settings) -> Path:
    """The only folder the API reads mapping files and extracts from (the CLI reads any path)."""
    return settings.data_dir.resolve()


_SERVER_DATABASES = ("postgresql://", "postgresql+psycopg://")


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _allowed_mapping(settings: Settings, given: str) -> Mapping:
    """A mapping file under the import root whose extract is there too: the API never reads,
    and so never quotes in an error, a file elsewhere on the server."""
    root = import_root(settings)
    try:  # an absolute `given` stays itself; `..` and links are resolved
        path = (root / given).resolve()
        inside = _within(path, root)
        found = inside and path.is_file()
    except (OSError, ValueError):  # a NUL byte, a name too long
        raise InvalidInput("映射文件路径无效", "mappings") from None
    if not inside:
        raise Forbidden(f"映射文件须位于数据目录 {root} 下", "mappings")
    if not found:
        raise NotFound(f"数据目录下没有映射文件 {path.relative_to(root)}", "mappings")
    mapping = load_mapping(path)
    if mapping.format == "sql" and mapping.location.startswith(_SERVER_DATABASES):
        return mapping
    extract = mapping.location.removeprefix("sqlite:///") if mapping.format == "sql" else None
    if mapping.format == "sql" and extract == mapping.location:
        raise Forbidden(
            "经 API 导入的数据库来源只能是 PostgreSQL 或数据目录下的 SQLite 文件", "mappings"
        )
    if not _within(Path(extract or mapping.location).resolve(), root):
        raise Forbidden(f"{path.relative_to(root)}: 数据文件须位于数据目录 {root} 下", "mappings")
    return mapping


@router.post("/imports")
def run_import(body: ImportRequest, request: Request, caller: Officer, wh: WarehouseDep) -> dict:
    settings = request.app.state.settings
    report = import_sources(wh, [_allowed_mapping(settings, p) for p in body.mappings])
    shown = asdict(report)
    for source, result in zip(report.sources, shown["sources"], strict=True):
        result["quarantine"] = [
            {**redact_quarantine(q, source.entity), "record": None} for q in result["quarantine"]
        ]
    return shown


class GrantRequest(BaseModel):
    grantee: str = Field(max_length=64, description="被授权部门（编号、全称或简称）或政策编号")
    grantee_kind: str = Field(default="department", description="department 或 policy")
    entity: str = Field(max_length=32)
    fields: list[str] = Field(max_length=100)
    purpose: str = Field(max_length=200)
    valid_until: dt.date
    clear: bool = False


def _in_scope(caller: Principal, grant: Grant) -> bool:
    """System administrators see every grant; a data officer those its department gives or gets."""
    return caller.citywide or grant.involves(caller.department)


@router.get("/grants")
def grants(
    caller: Annotated[Principal, requires("data.grants.read")],
    wh: WarehouseDep,
    grantee: str | None = None,
) -> list[dict]:
    return [asdict(g) for g in list_grants(wh, grantee) if _in_scope(caller, g)]


@router.post("/grants", status_code=201)
def add_grant(body: GrantRequest, request: Request, caller: Granter, wh: WarehouseDep) -> dict:
    """Grant another department (or a policy) fields for a purpose. Separation of duties: nobody
    grants themselves or their own department; the grantee must be in the department directory."""
    if body.grantee_kind == "policy":
        from zhixiang.api.policies import get_policies

        known = {p.id for p in get_policies(request).policies}
        if body.grantee.strip() not in known:
            raise InvalidInput(f"没有编号为“{body.grantee[:40]}”的政策", "grantee")
    grant = create_grant(
        wh,
        **body.model_dump(),
        granted_by=f"api:{caller.id}:{reader_of(caller)}",
        by=caller,
        directory=request.app.state.access.directory,
    )
    return asdict(grant)


@router.delete("/grants/{grant_id}", status_code=204)
def delete_grant(grant_id: int, caller: Granter, wh: WarehouseDep) -> Response:
    found = next((g for g in list_grants(wh) if g.grant_id == grant_id), None)
    if found is None or not _in_scope(caller, found):
        raise NotFound(f"没有编号为 {grant_id} 的授权", "grant_id")
    revoke_grant(wh, grant_id)
    return Response(status_code=204)


@router.get("/entities/{entity}")
def read(
    entity: str,
    caller: Caller,
    wh: WarehouseDep,
    purpose: str,
    fields: Annotated[list[str] | None, Query()] = None,
    key: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> dict:
    """Rows under the caller's grants: granted fields only, personal fields masked unless allowed."""
    result = read_entities(
        wh,
        entity,
        reader=reader_of(caller),
        purpose=purpose,
        fields=fields,
        keys=key,
        limit=limit,
        via=f"api:{caller.id}",
    )
    return {
        "rows": result.table.to_pylist(),
        "fields": result.fields,
        "masked": result.masked,
        "withheld": result.withheld,
        "grants": result.grants,
        "audit_seq": result.audit_seq,
    }


@router.get("/audit/verify")
def audit_verify(caller: Annotated[Principal, requires("audit.verify")], wh: WarehouseDep) -> dict:
    return asdict(verify_audit(wh))


@router.get("/audit/log")
def audit_log_route(
    caller: Annotated[Principal, requires("audit.read")],
    wh: WarehouseDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict]:
    """The newest audit records: all for a system administrator, else the caller's department's."""
    return _rows(audit_log(wh, limit, None if caller.citywide else reader_of(caller)))
