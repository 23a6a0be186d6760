"""智能咨询 API: a public ask endpoint and the library's management routes.

Thin: each route parses, calls `zhixiang.knowledge` and returns its values. Management routes take
the caller from `knowledge_caller`, the one seam where the platform's authentication plugs in
(`zhixiang.api._auth.requires` when it lands); until then it answers 401 for everyone, and the CLI
(`zhixiang knowledge …`) is how officers manage the library.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from zhixiang.access import ANONYMOUS, Principal
from zhixiang.errors import ZhixiangError
from zhixiang.knowledge import MAX_QUESTION_CHARS, Filters, Library, open_library

router = APIRouter(prefix="/knowledge", tags=["智能咨询"])


def get_library(request: Request) -> Library:
    return open_library(request.app.state.settings)


def knowledge_caller() -> Principal:
    """Who is calling a management route. Replace with the platform's `requires(...)` dependency."""
    return ANONYMOUS


LibraryDep = Annotated[Library, Depends(get_library)]
Caller = Annotated[Principal, Depends(knowledge_caller)]


class Question(BaseModel):
    # Longer questions are accepted by the schema so that the library itself says why it refuses.
    question: str = Field(max_length=MAX_QUESTION_CHARS * 2, description="中文问题，最多 2,000 字")
    region: str | None = Field(None, max_length=60, description="地区，如 广州、天河区")
    issuer: str | None = Field(None, max_length=60, description="发布机关")
    in_force_on: dt.date | None = Field(None, description="只引用这一天有效的文件")
    audience: Literal["居民", "企业"] | None = None


def _refused(exc: ZhixiangError) -> JSONResponse:
    return JSONResponse({"detail": exc.message, "field": exc.field}, exc.status)


@router.post("/ask")
def ask(body: Question, library: LibraryDep) -> dict:
    """问政策（公开）：最相关的条款原文、文件、文号、条款号、效力，以及简短回答或“未找到依据”。"""
    try:
        library.raise_if_empty()
        answer = library.ask(
            body.question, Filters(body.region, body.issuer, body.in_force_on, body.audience)
        )
    except ZhixiangError as exc:
        return _refused(exc)  # type: ignore[return-value]
    return dataclasses.asdict(answer)


@router.get("/documents")
def documents(
    library: LibraryDep,
    search: Annotated[str | None, Query(max_length=60)] = None,
    kind: Annotated[str | None, Query(max_length=30)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict]:
    """文件库中的文件（公开的政策文本）：文号、发布机关、日期与效力。"""
    return [dataclasses.asdict(d) for d in library.documents(kind, search, limit, offset)]


@router.get("/documents/{ref}")
def document(ref: Annotated[str, Path(max_length=200)], library: LibraryDep) -> dict:
    """一份文件及其条款结构。"""
    try:
        return dataclasses.asdict(library.document(ref))
    except ZhixiangError as exc:
        return _refused(exc)  # type: ignore[return-value]


class Review(BaseModel):
    approve: bool
    note: str = Field("", max_length=1000)


@router.get("/candidates")
def candidates(
    library: LibraryDep,
    caller: Caller,
    status: Literal["pending", "approved", "rejected"] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict]:
    """候选知识（热线答复）列表（需要 knowledge.review）。"""
    try:
        caller.require("knowledge.review")
    except ZhixiangError as exc:
        return _refused(exc)  # type: ignore[return-value]
    return [dataclasses.asdict(c) for c in library.candidates(status, limit)]


@router.post("/candidates/{candidate_id}/review")
def review(
    candidate_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: Review,
    library: LibraryDep,
    caller: Caller,
) -> dict:
    """审核一条候选知识（需要 knowledge.review）；审核人记入历史。"""
    try:
        return dataclasses.asdict(library.review(candidate_id, body.approve, caller, body.note))
    except ZhixiangError as exc:
        return _refused(exc)  # type: ignore[return-value]


class DraftRequest(BaseModel):
    clause_id: int = Field(ge=1, le=2**31 - 1)


@router.post("/drafts")
def create_draft(body: DraftRequest, library: LibraryDep, caller: Caller) -> dict:
    """政策拆解：从条款起草政策条件（需要 knowledge.manage）。"""
    try:
        draft_id, drafted = library.draft(body.clause_id, caller)
    except ZhixiangError as exc:
        return _refused(exc)  # type: ignore[return-value]
    return {"draft_id": draft_id, **dataclasses.asdict(drafted)}


class Confirmation(BaseModel):
    yaml: str = Field(max_length=200_000)


@router.post("/drafts/{draft_id}/confirm")
def confirm_draft(
    draft_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: Confirmation,
    library: LibraryDep,
    caller: Caller,
) -> dict:
    """确认核对后的政策草稿：政策检查通过才记为已确认（需要 knowledge.manage）。"""
    try:
        policy = library.confirm(draft_id, body.yaml, caller)
    except ZhixiangError as exc:
        return _refused(exc)  # type: ignore[return-value]
    return {"policy_id": policy.id, "conditions": [c.source for c in policy.conditions]}
