"""The region tree for pickers: 厦门市's districts and each district's streets (街道/镇).

Names and codes come from `zhixiang.identity` (the Ministry of Civil Affairs' code list shipped in
a PyPI package); this module only arranges them as choices.
"""

from __future__ import annotations

from functools import cache

from zhixiang.identity import XIAMEN_DISTRICTS, RegionLevel, region_code_table


def district_options() -> list[tuple[str, str]]:
    return list(XIAMEN_DISTRICTS.items())


@cache
def _streets() -> dict[str, list[tuple[str, str]]]:
    table = region_code_table().to_pylist()
    found: dict[str, list[tuple[str, str]]] = {}
    for row in table:
        if row["level"] == RegionLevel.TOWN and row["parent"] in XIAMEN_DISTRICTS:
            found.setdefault(row["parent"], []).append((row["code"], row["name"]))
    return {code: sorted(streets) for code, streets in found.items()}


def street_options(district: str | None) -> list[tuple[str, str]]:
    return _streets().get(district or "", [])


def region_name(code: str | None) -> str | None:
    """厦门市思明区 / 思明区中华街道, for showing a stored code."""
    if not code:
        return None
    district = XIAMEN_DISTRICTS.get(code[:6])
    if len(code) >= 9:
        for street, name in street_options(code[:6]):
            if street == code[:9]:
                return f"{district}{name}"
    return district


#: Resident population of each district (常住人口, 万人) at the Seventh National Census, 2020-11-01:
#: the denominator of the map's 每万人工单数. 海沧 582,519 and 同安 855,920 are from their districts'
#: census bulletins; 思明 107.33万 and 湖里, 集美 103.7万 each from reports quoting the city's bulletin
#: (厦门市第七次全国人口普查公报, city total 5,163,970); 翔安 is the remainder of that total. The
#: bulletins themselves were not at hand offline: replace with their exact figures when they are.
DISTRICT_POPULATION_10K: dict[str, float] = {
    "350203": 107.3,
    "350205": 58.3,
    "350206": 103.7,
    "350211": 103.7,
    "350212": 85.6,
    "350213": 57.8,
}


def registered_district(credit_code: str) -> str:
    """The district an enterprise is registered in: characters 3–8 of its 统一社会信用代码 are the
    registering authority's 行政区划码 (GB 32100-2015)."""
    return credit_code[2:8]
