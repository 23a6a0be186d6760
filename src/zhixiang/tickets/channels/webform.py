"""The web form channel: the public site's 我要反映 form, mapped onto the ticket model.

`zhixiang.web` calls `submit_web_form` with the form's fields as posted (already decoded) and the
site's own `channel` principal; errors name the form field so the page can show them beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from zhixiang.access import Principal
from zhixiang.tickets._errors import InvalidInput
from zhixiang.tickets._intake import Attachment
from zhixiang.tickets._model import IntakeResult, TicketDraft
from zhixiang.tickets._store import TicketStore

#: Form field → ticket field. Anything else in the form (csrf_token, buttons) is ignored.
FIELDS = {
    "title": "title",
    "content": "body",
    "name": "reporter_name",
    "phone": "reporter_contact",
    "address": "address",
    "region_code": "region_code",
    "category": "category",
}
_TRUE = {"on", "true", "1", "yes", "是"}


def submit_web_form(
    store: TicketStore,
    caller: Principal,
    form: Mapping[str, str],
    media: Sequence[Attachment] = (),
) -> IntakeResult:
    """受理 one web form. `form_token` (a hidden field set when the page is rendered) makes a double
    click or a re-sent form return the first ticket instead of a second one."""
    values: dict[str, object] = {
        target: form[name].strip() for name, target in FIELDS.items() if form.get(name, "").strip()
    }
    category = values.get("category")
    if isinstance(category, str) and category in store.rules.category_codes:
        values["category"] = store.rules.category_codes[category].name
    values["confidential"] = form.get("confidential", "").strip().lower() in _TRUE
    if "title" not in values and "body" in values:
        values["title"] = str(values["body"])[:30]
    try:
        draft = TicketDraft(channel="web", **values)  # type: ignore[arg-type]
    except ValidationError as exc:
        back = {target: name for name, target in FIELDS.items()}
        first = exc.errors()[0]
        field = back.get(str(first["loc"][0]), str(first["loc"][0])) if first["loc"] else None
        raise InvalidInput(f"{field}: {first['msg']}", field) from None
    token = form.get("form_token", "").strip() or None
    return store.intake(caller, draft, token, list(media))
