"""What of a ticket may be shown, to whom: masking for staff, scrubbing and hiding for the public.

Citizens write their ID numbers, phone numbers and bank cards into complaints; the public views
(Open311 lists, the web's public pages) show free text only after `scrub`. A confidential ticket's
public view has no text and no location finer than its district. Staff see the reporter's name and
contact masked; departments see nothing of a confidential reporter.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from zhixiang.tickets._model import TicketView, UtcDatetime
from zhixiang.tickets._workflow import STATUS_LABELS, Status

CLOSED = frozenset({Status.RESOLVED, Status.FOLLOWED_UP, Status.ARCHIVED})
CONFIDENTIAL_TEXT = "（诉求人要求保密）"

_SEP = r"[\s\-－—]?"
# Longest shapes first: an ID number is also a run of digits a card pattern would take.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_CARD = re.compile(rf"(?<!\d)(\d{{4}}(?:{_SEP}\d{{4}}){{2,3}}(?:{_SEP}\d{{1,3}})?)(?!\d)")
_MOBILE = re.compile(rf"(?<!\d)(?:\+?86{_SEP})?1[3-9]\d(?:{_SEP}?\d{{4}}){{2}}(?!\d)")
_LANDLINE = re.compile(rf"(?<!\d)0\d{{2,3}}{_SEP}\d{{7,8}}(?!\d)")
_LONG_DIGITS = re.compile(r"(?<!\d)\d{11,}(?!\d)")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[银行卡号]" if _luhn(digits) else "[号码]"


def scrub(text: str | None) -> str | None:
    """Free text with ID numbers, bank cards, phone numbers (and any other long digit run) masked."""
    if not text:
        return text
    text = _ID_NUMBER.sub("[身份证号]", text)
    text = _CARD.sub(_card, text)
    text = _MOBILE.sub("[电话]", text)
    text = _LANDLINE.sub("[电话]", text)
    return _LONG_DIGITS.sub("[号码]", text)


def mask_contact(contact: str | None) -> str | None:
    """138****5678 for phone numbers, z***@example.org for e-mail; never the whole contact."""
    if not contact:
        return None
    if "@" in contact:
        user, domain = contact.split("@", 1)
        return f"{user[:1]}***@{domain}"
    digits = re.sub(r"\D", "", contact)
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "*" * len(digits)


def mask_name(name: str | None) -> str | None:
    """张* for 张三: staff can address the reporter without the full name in every view."""
    return f"{name[0]}*" if name else None


class PublicTicket(BaseModel):
    """A ticket as anyone may see it: no reporter, text scrubbed, location withheld if confidential."""

    id: int
    status: Status
    status_label: str
    closed: bool
    category: str | None
    title: str
    description: str
    reply: str | None
    department: str | None
    department_name: str | None
    address: str | None
    region_code: str | None
    lat: float | None
    lon: float | None
    confidential: bool
    created_at: UtcDatetime
    updated_at: UtcDatetime
    due_at: UtcDatetime | None


def public_view(ticket: TicketView) -> PublicTicket:
    """The public face of one ticket; every rule of the module docstring is applied here."""
    hidden = ticket.confidential
    region = ticket.region_code
    if hidden and region:
        region = region[:6]
    return PublicTicket(
        id=ticket.id,
        status=ticket.status,
        status_label=STATUS_LABELS[ticket.status],
        closed=ticket.status in CLOSED,
        category=ticket.category,
        title=CONFIDENTIAL_TEXT if hidden else scrub(ticket.title) or "",
        description=CONFIDENTIAL_TEXT if hidden else scrub(ticket.body) or "",
        reply=None if hidden else scrub(ticket.reply),
        department=ticket.department,
        department_name=ticket.department_name,
        address=None if hidden else scrub(ticket.address),
        region_code=region,
        lat=None if hidden else ticket.lat,
        lon=None if hidden else ticket.lon,
        confidential=hidden,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        due_at=ticket.due_at,
    )
