"""便民服务 portal: report a problem, get a tracking code, follow its progress, rate the reply.

No account needed. A report goes through the ticket store like a call to 12345 (channel `web`);
the tracking code is the ticket's random token, and the page shown for it is the store's public
view (no names or contacts of anyone).
"""

from __future__ import annotations

import io
import secrets
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from zhixiang.access import Principal
from zhixiang.errors import ZhixiangError
from zhixiang.tickets import SATISFACTION_LABELS, Action, Attachment, Command, Status
from zhixiang.tickets.channels import submit_web_form
from zhixiang.web._app import anyone, check_public_form, redirect, render
from zhixiang.web._capabilities import WEB_CHANNEL, WEB_FOLLOW_UP, store
from zhixiang.web._forms import Form
from zhixiang.web._regions import district_options, street_options
from zhixiang.web._tickets import _draft
from zhixiang.web._time import local

router = APIRouter(prefix="/bianmin", include_in_schema=False)
Anyone = Annotated[Principal, anyone()]

PHOTO_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
#: The web form channel's field names (`zhixiang.tickets.channels.webform`) for this page's fields.
CHANNEL_FIELDS = {
    "title": "title",
    "body": "content",
    "reporter_name": "name",
    "reporter_contact": "phone",
    "address": "address",
    "category": "category",
}
PHOTO_MAX_PIXELS = 40_000_000


def _page(request: Request, template: str, user: Principal, status: int = 200, **ctx) -> Response:
    return render(request, template, status, user=user, **ctx)


def _categories(request: Request) -> list[tuple[str, str]]:
    return [(c, c) for c in store(request).rules.category_names]


@router.get("")
def portal(request: Request, user: Anyone) -> Response:
    return _page(request, "bianmin/home.html", user)


@router.get("/streets")
def streets(request: Request, user: Anyone, district: str = "") -> Response:
    """The street choices of one district, for the region picker (an htmx fragment)."""
    return _page(
        request, "_street_options.html", user, streets=street_options(district[:6]), form=None
    )


@router.post("/suggest")
async def suggest(request: Request, user: Anyone) -> Response:
    """The category the classifier would choose for what was typed so far (an htmx fragment)."""
    form = Form.of(await request.form(), max_length=5000)
    title, body = form.values.get("title", "").strip(), form.values.get("body", "").strip()
    tickets = store(request)
    category = None
    if (title or body) and tickets.classifier is not None:
        prediction = tickets.classifier.predict([title], [body])[0]
        if prediction.category in tickets.rules.category_names:
            category = prediction.category
    return _page(request, "bianmin/_category.html", user, category=category)


def _report_form(request: Request, user: Principal, form: Form, status: int = 200) -> Response:
    settings = request.app.state.settings
    return _page(
        request,
        "bianmin/report.html",
        user,
        status,
        form=form,
        categories=_categories(request),
        districts=district_options(),
        photo_limit_mb=settings.photo_max_bytes // 1_000_000,
    )


@router.get("/report")
def report_form(request: Request, user: Anyone) -> Response:
    return _report_form(request, user, Form({"form_token": secrets.token_urlsafe(16)}))


async def _photo(request: Request, form: Form, upload: UploadFile) -> Attachment | None:
    """The photo re-encoded without its metadata (EXIF can carry where and when it was taken)."""
    from PIL import Image, UnidentifiedImageError

    limit = request.app.state.settings.photo_max_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        form.refuse("photo", f"照片过大：上限 {limit // 1_000_000} MB")
        return None
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            probe.verify()
        if kind not in PHOTO_TYPES:
            raise UnidentifiedImageError(kind)
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > PHOTO_MAX_PIXELS:
                form.refuse("photo", "照片像素过多")
                return None
            image.load()
            out = io.BytesIO()
            image.save(out, format=kind)  # Pillow writes no EXIF unless asked to
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        form.refuse("photo", "照片应为 JPEG、PNG 或 WebP 图片")
        return None
    return Attachment(upload.filename, PHOTO_TYPES[kind], out.getvalue())


@router.post("/report")
async def report(request: Request, user: Anyone) -> Response:
    """Validate everything (text, place, photo) before anything is stored; then one ticket."""
    await check_public_form(request)
    data = await request.form()
    form = Form.of(data)
    draft = _draft(form, "web")
    upload = data.get("photo")
    photo = None
    if isinstance(upload, UploadFile) and upload.filename:
        photo = await _photo(request, form, upload)
    if draft is None or not form.ok:
        return _report_form(request, user, form, 422)
    fields = {target: form.values.get(name, "") for name, target in CHANNEL_FIELDS.items()}
    fields["region_code"] = form.get("street") or form.get("district") or ""
    fields["confidential"] = "yes" if form.flag("confidential") else ""
    fields["form_token"] = form.get("form_token") or ""
    try:
        result = submit_web_form(store(request), WEB_CHANNEL, fields, [photo] if photo else [])
    except ZhixiangError as exc:
        back = {target: name for name, target in CHANNEL_FIELDS.items()} | {
            "region_code": "district"
        }
        exc.field = back.get(exc.field or "", exc.field)
        form.refuse_error(exc, ("title", "body", "district", "category", "reporter_contact"))
        return _report_form(request, user, form, 422)
    return redirect(f"/bianmin/track?code={result.ticket.token}&new=1")


@router.get("/track")
def track(request: Request, user: Anyone, code: str = "", new: str = "") -> Response:
    """Progress for a tracking code: status, department, reply, and the rating form when replied."""
    form = Form({"code": code[:64]})
    ticket = None
    if code:
        try:
            ticket = store(request).by_token(code.strip().lower()[:64])
        except ZhixiangError:
            form.refuse("code", "没有这个查询码，请核对后再试")
    return _page(
        request,
        "bianmin/track.html",
        user,
        200 if ticket or not code else 404,
        form=form,
        ticket=ticket,
        code=code.strip().lower()[:64],
        new=bool(new),
        local=local,
        satisfaction=list(SATISFACTION_LABELS.items()),
        can_rate=ticket is not None and ticket.status == Status.RESOLVED,
    )


@router.post("/track/{code}/rate")
async def rate(request: Request, user: Anyone, code: str) -> Response:
    """回访 by the citizen: their own rating of the reply, recorded as a reached follow-up."""
    await check_public_form(request)
    form = Form.of(await request.form(), max_length=2000)
    tickets = store(request)
    try:
        ticket = tickets.by_token(code[:64])
    except ZhixiangError:
        form.refuse("code", "没有这个查询码，请核对后再试")
        return _page(request, "bianmin/track.html", user, 404, form=form, ticket=None)
    choices = (("responded", "是否联系过您"), ("solved", "是否解决"), ("satisfaction", "满意度"))
    for name, label in choices:
        if not form.get(name):
            form.refuse(name, f"请选择{label}")
    if form.ok:
        try:
            command = Command.model_validate(
                {
                    "action": Action.FOLLOW_UP,
                    "reached": True,
                    "responded": form.get("responded") == "yes",
                    "solved": form.get("solved") == "yes",
                    "satisfaction": form.get("satisfaction"),
                    "reason": form.get("comment"),
                }
            )
            tickets.act(WEB_FOLLOW_UP, ticket.id, command)
        except ValidationError as exc:
            form.refuse_validation(exc)
            if "reason" in form.errors:
                form.refuse("comment", form.errors.pop("reason"))
        except ZhixiangError as exc:
            form.refuse_error(exc, ("satisfaction", "solved", "responded"))
        else:
            return redirect(f"/bianmin/track?code={code}")
    return _page(
        request,
        "bianmin/track.html",
        user,
        422,
        form=form,
        ticket=ticket,
        code=code[:64],
        local=local,
        satisfaction=list(SATISFACTION_LABELS.items()),
        can_rate=ticket.status == Status.RESOLVED,
    )
