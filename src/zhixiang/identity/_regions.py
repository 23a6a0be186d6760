"""行政区划代码: prefixes for membership tests and the districts of 厦门市 used by the demo."""

from __future__ import annotations

XIAMEN_DISTRICTS: dict[str, str] = {
    "350203": "思明区",
    "350205": "海沧区",
    "350206": "湖里区",
    "350211": "集美区",
    "350212": "同安区",
    "350213": "翔安区",
}


def region_prefix(code: str) -> str:
    """The significant prefix of a region code: 350200 (a city) → 3502; 350211001000 → 350211001.

    An entity is inside a region when its own code starts with this prefix.
    """
    if not code.isdigit() or len(code) not in (2, 4, 6, 9, 12):
        raise ValueError(f"行政区划代码应为2/4/6/9/12位数字: {code!r}")
    if len(code) == 12:
        code = code[:9] if code[9:] == "000" else code
    if len(code) == 9:
        code = code[:6] if code[6:] == "000" else code
    if len(code) == 6:
        code = code[:4] if code[4:] == "00" else code
    if len(code) == 4:
        code = code[:2] if code[2:] == "00" else code
    return code
