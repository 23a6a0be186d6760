"""问政策 (智能咨询) in both portals and the workbench: a question in plain Chinese, answered by
quoting the clauses of the policy library with document, 文号, clause and whether it is still in
force — or 未找到依据. Staff (a hotline agent on a call) choose whom the answer is for.

The answer is `zhixiang.knowledge.ask`'s, as on the command line and the API; nothing is stored.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from zhixiang.access import Principal
from zhixiang.api import requires
from zhixiang.errors import ZhixiangError
from zhixiang.knowledge import MAX_QUESTION_CHARS, ask
from zhixiang.web._app import anyone, check_public_form, render
from zhixiang.web._forms import Form

router = APIRouter(include_in_schema=False)
Anyone = Annotated[Principal, anyone()]
Staff = Annotated[Principal, requires("policies.explain")]

#: portal → (template base, audience the library filters on)
PORTALS = {
    "qiye": ("qiye/_portal.html", "企业"),
    "bianmin": ("bianmin/_portal.html", "居民"),
    "app": ("base.html", None),
}
#: Whom a staff member may ask for (the library's audiences).
AUDIENCES = [("企业", "企业"), ("居民", "居民")]


def _page(
    request: Request, user: Principal, portal: str, form: Form, answer=None, status: int = 200
) -> Response:
    base, _ = PORTALS[portal]
    return render(
        request,
        "ask.html",
        status,
        user=user,
        base=base,
        portal=portal,
        form=form,
        answer=answer,
        limit=MAX_QUESTION_CHARS,
        audiences=AUDIENCES,
    )


@router.get("/qiye/ask")
def enterprise_ask_page(request: Request, user: Anyone) -> Response:
    return _page(request, user, "qiye", Form())


@router.get("/bianmin/ask")
def citizen_ask_page(request: Request, user: Anyone) -> Response:
    return _page(request, user, "bianmin", Form())


async def _answer(request: Request, user: Principal, portal: str) -> Response:
    await check_public_form(request)
    form = Form.of(await request.form(), max_length=MAX_QUESTION_CHARS * 2)
    question = form.get("question")
    if question is None:
        form.refuse("question", "请输入问题")
        return _page(request, user, portal, form, status=422)
    audience = PORTALS[portal][1]
    if portal == "app":
        audience = form.get("audience")
        if audience is not None and audience not in dict(AUDIENCES):
            form.refuse("audience", "请选择企业或居民，或留空")
            return _page(request, user, portal, form, status=422)
    try:
        answer = await run_in_threadpool(
            ask, question, audience=audience, settings=request.app.state.settings
        )
    except ZhixiangError as exc:
        form.refuse_error(exc, ("question",))
        if exc.field != "question":
            form.message = exc.message
        return _page(request, user, portal, form, status=exc.status)
    return _page(request, user, portal, form, answer)


@router.post("/qiye/ask")
async def enterprise_ask(request: Request, user: Anyone) -> Response:
    return await _answer(request, user, "qiye")


@router.post("/bianmin/ask")
async def citizen_ask(request: Request, user: Anyone) -> Response:
    return await _answer(request, user, "bianmin")


@router.get("/app/ask")
def staff_ask_page(request: Request, user: Staff) -> Response:
    return _page(request, user, "app", Form())


@router.post("/app/ask")
async def staff_ask(request: Request, user: Staff) -> Response:
    return await _answer(request, user, "app")
