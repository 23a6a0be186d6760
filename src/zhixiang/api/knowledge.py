"""智能咨询 API: a public ask endpoint and the library's management routes.

Thin: each route parses, calls `zhixiang.knowledge` and returns its values; refusals are
`ZhixiangError`s that the app turns into their 4xx status. Reading the library is public (the texts
are public documents); reviewing needs `knowledge.review`, drafting and confirming `knowledge.manage`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from zhixiang.access import Principal
from zhixiang.api._auth import public, requires
from zhixiang.knowledge import MAX_QUESTION_CHARS, Filters, Library, open_library

router = APIRouter(prefix="/knowledge", tags=["智能咨询"])


def get_library(request: Request) -> Library:
    return open_library(request.app.state.settings)


LibraryDep = Annotated[Library, Depends(get_library)]
Anyone = Annotated[Principal, public()]
Reviewer = Annotated[Principal, requires("knowledge.review")]
Manager = Annotated[Principal, requires("knowledge.manage")]


class Question(BaseModel):
    # Longer questions are accepted by the schema so that the library itself says why it refuses.
    question: str = Field(max_length=MAX_QUESTION_CHARS * 2, description="中文问题，最多 2,000 字")
    region: str | None = Field(default=None, max_length=60, description="地区，如 广州、天河区")
    issuer: str | None = Field(default=None, max_length=60, description="发布机关")
    in_force_on: dt.date | None = Field(default=None, description="只引用这一天有效的文件")
    audience: Literal["居民", "企业"] | None = None


@router.post("/ask")
def ask(body: Question, library: LibraryDep, _: Anyone) -> dict:
    """问政策（公开）：最相关的条款原文、文件、文号、条款号、效力，以及简短回答或“未找到依据”。"""
    library.raise_if_empty()
    filters = Filters(body.region, body.issuer, body.in_force_on, body.audience)
    return dataclasses.asdict(library.ask(body.question, filters))


@router.get("/documents")
def documents(
    library: LibraryDep,
    _: Anyone,
    search: Annotated[str | None, Query(max_length=60)] = None,
    kind: Annotated[str | None, Query(max_length=30)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict]:
    """文件库中的文件（公开的政策文本）：文号、发布机关、日期与效力。"""
    return [dataclasses.asdict(d) for d in library.documents(kind, search, limit, offset)]


@router.get("/documents/{ref}")
def document(ref: Annotated[str, Path(max_length=200)], library: LibraryDep, _: Anyone) -> dict:
    """一份文件及其条款结构。"""
    return dataclasses.asdict(library.document(ref))


class Review(BaseModel):
    approve: bool
    note: str = Field(default="", max_length=1000)


@router.get("/candidates")
def candidates(
    library: LibraryDep,
    _: Reviewer,
    status: Literal["pending", "approved", "rejected"] = "pending",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict]:
    """候选知识（热线答复）列表（需要 knowledge.review）。"""
    return [dataclasses.asdict(c) for c in library.candidates(status, limit)]


@router.post("/candidates/{candidate_id}/review")
def review(
    candidate_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: Review,
    library: LibraryDep,
    caller: Reviewer,
) -> dict:
    """审核一条候选知识（需要 knowledge.review）；审核人记入历史。"""
    return dataclasses.asdict(library.review(candidate_id, body.approve, caller, body.note))


class DraftRequest(BaseModel):
    clause_id: int = Field(ge=1, le=2**31 - 1)


@router.post("/drafts")
def create_draft(body: DraftRequest, library: LibraryDep, caller: Manager) -> dict:
    """政策拆解：从条款起草政策条件（需要 knowledge.manage）。"""
    draft_id, drafted = library.draft(body.clause_id, caller)
    return {"draft_id": draft_id, **dataclasses.asdict(drafted)}


class Confirmation(BaseModel):
    yaml: str = Field(max_length=200_000)


@router.post("/drafts/{draft_id}/confirm")
def confirm_draft(
    draft_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: Confirmation,
    library: LibraryDep,
    caller: Manager,
) -> dict:
    """确认核对后的政策草稿：政策检查通过才记为已确认（需要 knowledge.manage）。"""
    policy = library.confirm(draft_id, body.yaml, caller)
    return {"policy_id": policy.id, "conditions": [c.source for c in policy.conditions]}
