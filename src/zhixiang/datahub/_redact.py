"""What of a quarantined cell may be shown outside the data officer's shell: no personal values.

Quarantine must not become a way around grants: the raw value of a personal field, the whole raw
row of a person source and any 身份证号 or mobile number written into a reason are withheld. Used
by the quarantine list and by the import report the API returns.
"""

from __future__ import annotations

import re

from zhixiang.catalog import Sensitivity, load_catalog

_PERSONAL = (Sensitivity.PERSONAL, Sensitivity.SENSITIVE_PERSONAL)
# An 18-character 身份证号 or an 11-digit mobile number, not part of a longer run of digits.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{4})\d{10}(\d{3}[\dXx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")


def redact_text(text: str) -> str:
    """Mask 身份证号 (3502**********1234) and mobile numbers (138****5678) inside free text."""
    return _MOBILE.sub(r"\1****\2", _ID_NUMBER.sub(r"\1**********\2", text))


def redact_quarantine(row: dict, entity: str) -> dict:
    """A quarantine row (source, field, reason, value, record …) as a reader other than the data
    officer at the shell may see it."""
    field = load_catalog(entity).get(row.get("field") or "")
    personal = field is None or field.sensitivity in _PERSONAL
    shown = dict(row)
    if entity == "person" or personal:
        shown["record"] = None
        if personal and shown.get("value") is not None:
            shown["value"] = "***"
        if shown.get("reason"):
            shown["reason"] = redact_text(shown["reason"])
    return shown
