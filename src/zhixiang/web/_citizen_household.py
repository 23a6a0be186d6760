"""便民服务: the 家庭政策计算器 (typed household facts against the resident policies) and 一件事
(the policies a household qualifies for, grouped by life event).

Typed facts are evaluated by `zhixiang.matching.household_report` and forgotten: nothing is stored
and no one's data is read. Signed in as a citizen, 一件事 is answered for the citizen's own
household from the data hub by `zhixiang.matching.explain_resident` (masked unless a grant allows
more, one audit record per policy). Member rows are added and removed by plain form buttons, so
the page works without JavaScript.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response

from zhixiang.access import Principal
from zhixiang.api.residents import get_resident_policies
from zhixiang.catalog import load_catalog
from zhixiang.errors import ZhixiangError
from zhixiang.identity import region_code_table
from zhixiang.matching import explain_resident, household_report
from zhixiang.rules import MEMBERS_KEY, ROLES, Policy, Value, literal_for_field
from zhixiang.web._app import anyone, check_public_form, render
from zhixiang.web._calculator import Question, answers_from, as_of_from, question_for, questions
from zhixiang.web._forms import Form

router = APIRouter(prefix="/bianmin", include_in_schema=False)
Anyone = Annotated[Principal, anyone()]

MAX_MEMBERS = 12
MAX_AGE = 130
#: Where a member's 户籍 or 居住地 is: Guangzhou's districts (the resident policies are Guangzhou's)
#: and one choice for anywhere else (a code inside no district of the city).
OUTSIDE = ("000000", "广州市以外")
PERSON_EXTRA = ("birth_date", "household_region", "residence_region")
STATUS_LABELS = {"eligible": "符合", "ineligible": "不符合", "needs_information": "待补充信息"}


@cache
def region_choices() -> tuple[tuple[str, str], ...]:
    rows = region_code_table().to_pylist()
    districts = [(r["code"], f"广州市{r['name']}") for r in rows if r["parent"] == "440100"]
    return (*sorted(districts), OUTSIDE)


def _resident_policies(request: Request) -> list[Policy]:
    return list(get_resident_policies(request).policies)


def member_questions(policies: list[Policy]) -> list[Question]:
    """The person facts the resident policies read, plus 出生日期 and where the member lives; money
    in 元 (a month's income is typed in 元, not 万元)."""
    catalog = load_catalog("person")
    asked = [catalog[name] for name in PERSON_EXTRA]
    asked += [q.field for q in questions(policies, "person") if q.field.name not in PERSON_EXTRA]
    found = []
    for f in asked:
        q = question_for(f, f.name)
        if f.name in ("household_region", "residence_region"):
            q = dataclasses.replace(q, choices=region_choices())
        if q.unit == "万元":
            q = dataclasses.replace(q, unit="元")
        found.append(q)
    return found


def _rows(form: Form) -> int:
    """How many member rows the form holds (m0_role, m1_role …), at least one."""
    n = 0
    while f"m{n}_role" in form.values and n < MAX_MEMBERS:
        n += 1
    return max(n, 1)


def _renumber(form: Form, rows: int, drop: int | None) -> int:
    """The form's member rows without row `drop`, renumbered from 0."""
    if drop is None or not 0 <= drop < rows or rows == 1:
        return rows
    moved: dict[str, str] = {}
    for key, value in form.values.items():
        head, sep, name = key.partition("_")
        if sep and head.startswith("m") and head[1:].isdigit():
            i = int(head[1:])
            if i == drop:
                continue
            moved[f"m{i - 1 if i > drop else i}_{name}"] = value
        else:
            moved[key] = value
    form.values = moved
    return rows - 1


def _member(form: Form, i: int, asked: list[Question], as_of: dt.date) -> dict[str, Value]:
    """One member's typed facts; each refusal is shown next to that member's field."""
    prefixed = [dataclasses.replace(q, name=f"m{i}_{q.name}") for q in asked]
    by_name = {q.field.name: q for q in prefixed}
    answers = answers_from(form, prefixed)
    facts: dict[str, Value] = {
        name: literal_for_field(by_name[name].field, value) for name, value in answers.items()
    }
    role = form.get(f"m{i}_role")
    if role not in ROLES:
        form.refuse(f"m{i}_role", f"请选择家庭角色（{'/'.join(ROLES)}）")
    age = form.get(f"m{i}_age")
    if age is not None:
        if not age.isdigit() or int(age) > MAX_AGE:
            form.refuse(f"m{i}_age", f"应为 0–{MAX_AGE} 的整数（周岁）")
        elif "birth_date" not in facts:
            years = int(age)
            try:
                facts["birth_date"] = as_of.replace(year=as_of.year - years)
            except ValueError:  # 2月29日
                facts["birth_date"] = as_of.replace(year=as_of.year - years, day=28)
    born = facts.get("birth_date")
    if isinstance(born, dt.date) and born > as_of:
        form.refuse(f"m{i}_birth_date", "出生日期不能晚于评估日期")
    owns = form.get(f"m{i}_owns_house")
    if owns not in (None, "yes", "no"):
        form.refuse(f"m{i}_owns_house", "请选择是或否")
    area = form.get(f"m{i}_owned_area")
    owned = Decimal(0)
    if area is not None:
        try:
            owned = Decimal(area)
            if not owned.is_finite() or owned < 0 or owned > 100_000:
                raise InvalidOperation
        except InvalidOperation:
            form.refuse(f"m{i}_owned_area", "应为 0–100000 之间的数（平方米）")
            owned = Decimal(0)
    # As in the warehouse, a member with no house owned owns nothing (有房 否, 面积 0).
    return {
        "role": role,
        "name": f"第{i + 1}位",
        "id_number": f"#{i + 1}",
        "owns_house": owns == "yes" or owned > 0,
        "owned_area": owned,
        **facts,
    }


def _typed_report(request: Request, form: Form, rows: int) -> dict[str, Any] | None:
    """The typed household against every resident policy in force; None when the form is refused."""
    policies = _resident_policies(request)
    as_of = as_of_from(form)
    asked = member_questions(policies)
    household_asked = questions(policies, "household")
    household = {
        name: literal_for_field(q.field, value)
        for q in household_asked
        for name, value in answers_from(form, [q]).items()
    }
    members = tuple(_member(form, i, asked, as_of) for i in range(rows))
    if sum(1 for m in members if m["role"] == "申请人") != 1 and form.ok:
        form.message = "每户须有且只有一名申请人"
    if not form.ok:
        return None
    facts: dict[str, Any] = {**household, MEMBERS_KEY: members}
    report = household_report(facts, "（自行填写）", policies, as_of, clear=True)
    data = report.to_dict()
    data["missing"] = report.missing()
    return data


def _page(
    request: Request,
    user: Principal,
    template: str,
    form: Form,
    rows: int,
    report: dict[str, Any] | None = None,
    status: int = 200,
    **ctx: Any,
) -> Response:
    policies = _resident_policies(request)
    return render(
        request,
        template,
        status,
        user=user,
        form=form,
        rows=rows,
        max_members=MAX_MEMBERS,
        roles=[(r, r) for r in ROLES],
        member_questions=member_questions(policies),
        household_questions=questions(policies, "household"),
        report=report,
        status_labels=STATUS_LABELS,
        **ctx,
    )


async def _submitted(request: Request) -> tuple[Form, int, bool]:
    """The form, its member rows after an 添加/删除 button, and whether to answer now."""
    await check_public_form(request)
    form = Form.of(await request.form(), max_length=201)
    for name, value in form.values.items():
        if len(value) > 200:
            form.refuse(name, "过长：最多 200 个字符")
    rows = _rows(form)
    if "add" in form.values:
        if rows >= MAX_MEMBERS:
            form.message = f"一户最多填写 {MAX_MEMBERS} 人"
        else:
            form.values[f"m{rows}_role"] = ""
            rows += 1
        return form, rows, False
    if "remove" in form.values:
        drop = form.values.pop("remove")
        rows = _renumber(form, rows, int(drop) if drop.isdigit() else None)
        return form, rows, False
    return form, rows, True


def _start() -> Form:
    return Form({"m0_role": "申请人"})


@router.get("/household")
def household_page(request: Request, user: Anyone) -> Response:
    return _page(request, user, "bianmin/household.html", _start(), 1)


@router.post("/household")
async def household(request: Request, user: Anyone) -> Response:
    """家庭政策计算器: each resident policy for the typed household, each condition explained."""
    form, rows, answer = await _submitted(request)
    report = _typed_report(request, form, rows) if answer and form.ok else None
    status = 422 if not form.ok else 200
    return _page(request, user, "bianmin/household.html", form, rows, report, status)


def _own_events(request: Request, user: Principal) -> tuple[dict[str, Any] | None, str | None]:
    """The signed-in citizen's own household, read through the data hub (masked, audited)."""
    if not user.can("portal.citizen"):
        return None, None
    if not user.subject:
        return None, "您的账号没有登记身份证号，无法查询本户"
    try:
        found = explain_resident(
            request.app.state.settings.warehouse_url,
            _resident_policies(request),
            dt.date.today(),
            reader=user.department or user.actor,
            id_number=user.subject,
            via=f"web:{user.id}",
        )
    except ZhixiangError as exc:
        return None, exc.message
    except Exception:  # a warehouse without resident tables
        return None, "居民数据暂时无法读取，可以在下面自行填写家庭情况"
    if found is None:
        return None, "政府数据中没有找到您所在的户，可以在下面自行填写家庭情况"
    return found.to_dict(), None


@router.get("/events")
def events_page(request: Request, user: Anyone) -> Response:
    """一件事: bundles for the citizen's own household when signed in, or for typed facts."""
    own, problem = _own_events(request, user)
    return _page(request, user, "bianmin/events.html", _start(), 1, own=own, own_problem=problem)


@router.post("/events")
async def events(request: Request, user: Anyone) -> Response:
    form, rows, answer = await _submitted(request)
    report = _typed_report(request, form, rows) if answer and form.ok else None
    status = 422 if not form.ok else 200
    return _page(
        request, user, "bianmin/events.html", form, rows, report, status, own=None, own_problem=None
    )
