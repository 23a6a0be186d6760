"""家庭政策计算器 for staff: one household (by 户编号, or by a member's 身份证号) against every resident
policy — each condition with the members' values that decided it, and its 一件事 bundles.

The account is `zhixiang.matching.explain_resident`'s, as the residents API gives it: names and
身份证号 masked unless the reader's department holds a clear grant, and every policy read audited
with the policy as its purpose. A lookup is a POST, so no 身份证号 lands in an address or a log.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

from fastapi import APIRouter, Request, Response

from zhixiang.access import Principal
from zhixiang.api import requires
from zhixiang.api.residents import get_resident_policies
from zhixiang.errors import ZhixiangError
from zhixiang.identity import IdentifierError, validate_id_number
from zhixiang.matching import explain_resident
from zhixiang.web._app import render
from zhixiang.web._calculator import STATUS_LABELS, as_of_from
from zhixiang.web._forms import Form

router = APIRouter(prefix="/app/households", include_in_schema=False)
Staff = Annotated[Principal, requires("policies.explain")]
log = logging.getLogger(__name__)


def _page(request: Request, user: Principal, form: Form, report: dict | None = None) -> Response:
    return render(
        request,
        "policies/household.html",
        200 if form.ok else 422,
        user=user,
        form=form,
        report=report,
        status_labels=STATUS_LABELS,
    )


@router.get("")
def household_form(request: Request, user: Staff) -> Response:
    return _page(request, user, Form({"as_of": dt.date.today().isoformat()}))


@router.post("")
async def household_lookup(request: Request, user: Staff) -> Response:
    form = Form.of(await request.form(), max_length=100)
    household_id, id_number = form.get("household_id"), form.get("id_number")
    as_of = as_of_from(form)
    if household_id is None and id_number is None:
        form.refuse("household_id", "请填写户编号，或在下面填写一位家庭成员的身份证号")
    if household_id is not None and id_number is not None:
        form.refuse("id_number", "户编号与身份证号只填一项")
    if household_id is not None and len(household_id) > 40:
        form.refuse("household_id", "户编号过长：最多 40 个字符")
    if id_number is not None and household_id is None:
        try:
            id_number = validate_id_number(id_number)
        except IdentifierError as exc:
            form.refuse("id_number", str(exc))
    if not form.ok:
        return _page(request, user, form)
    field = "household_id" if household_id is not None else "id_number"
    try:
        report = explain_resident(
            request.app.state.settings.warehouse_url,
            get_resident_policies(request).policies,
            as_of,
            reader=user.department or user.actor,
            household_id=household_id,
            id_number=id_number,
            via=f"web:{user.id}",
        )
    except ZhixiangError as exc:
        form.refuse(field, exc.message)
        return _page(request, user, form)
    except Exception:  # a warehouse without resident tables, or a database that is down
        log.exception("居民数据无法读取")
        form.refuse(field, "居民数据暂时无法读取（数据中台尚未导入户籍与家庭成员数据？）")
        return _page(request, user, form)
    if report is None:
        what = f"户编号 {household_id}" if household_id else "该身份证号"
        form.refuse(field, f"没有找到：{what}不在任何户中")
        return _page(request, user, form)
    form.values.pop("id_number", None)  # the page never echoes a typed 身份证号 back in clear
    return _page(request, user, form, report.to_dict())
