"""数据按需共享 REST API: catalog, sources, quarantine, quality, grants, reads under grant, audit check.

Thin: each route authenticates with the platform's API keys (X-API-Key, issued by
`zhixiang access keys create`), calls `zhixiang.datahub` and returns its values. The caller's
department is the reader whose grants apply; every read of personal data is audited by the data hub.
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
from zhixiang.api._auth import requires
from zhixiang.datahub import (
    Warehouse,
    audit_records,
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
    revoke_grant,
    verify_audit,
)

router = APIRouter(prefix="/data", tags=["数据按需共享"])
Caller = Annotated[Principal, requires("data.read")]
#: Imports and grants change what everyone may see: only a data officer may make them.
Officer = Annotated[Principal, requires("data.import")]


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
def catalog(entity: str | None = None) -> list[dict]:
    """Every field with owner department and sensitivity; metadata only, open to all."""
    return [asdict(e) for e in data_catalog(entity)]


@router.get("/sources")
def sources(caller: Caller, wh: WarehouseDep, history: bool = False) -> list[dict]:
    return _rows(list_imports(wh, None, history))


@router.get("/quarantine")
def quarantine(
    caller: Caller,
    wh: WarehouseDep,
    source: str | None = None,
    limit: Annotated[int, Query(le=10_000)] = 500,
) -> list[dict]:
    return _rows(quarantine_rows(wh, source, limit, redact_personal=True))


@router.get("/quality")
def quality(caller: Caller, wh: WarehouseDep, source: str | None = None) -> list[dict]:
    return [asdict(r) for r in quality_report(wh, source)]


class ImportRequest(BaseModel):
    mappings: list[str] = Field(description="服务器上的映射文件路径；一次导入全部成功或全部不变")


@router.post("/imports")
def run_import(body: ImportRequest, caller: Officer, wh: WarehouseDep) -> dict:
    report = import_sources(wh, [load_mapping(Path(p)) for p in body.mappings])
    return asdict(report)


class GrantRequest(BaseModel):
    grantee: str
    grantee_kind: str = "department"
    entity: str
    fields: list[str]
    purpose: str
    valid_until: dt.date
    clear: bool = False


@router.get("/grants")
def grants(caller: Caller, wh: WarehouseDep, grantee: str | None = None) -> list[dict]:
    return [asdict(g) for g in list_grants(wh, grantee)]


@router.post("/grants", status_code=201)
def add_grant(body: GrantRequest, caller: Officer, wh: WarehouseDep) -> dict:
    grant = create_grant(wh, **body.model_dump(), granted_by=f"api:{caller.id}:{reader_of(caller)}")
    return asdict(grant)


@router.delete("/grants/{grant_id}", status_code=204)
def delete_grant(grant_id: int, caller: Officer, wh: WarehouseDep) -> Response:
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
def audit_verify(caller: Caller, wh: WarehouseDep) -> dict:
    return asdict(verify_audit(wh))


@router.get("/audit/log")
def audit_log(
    caller: Caller, wh: WarehouseDep, limit: Annotated[int, Query(le=1000)] = 50
) -> list[dict]:
    return _rows(audit_records(wh, limit))
