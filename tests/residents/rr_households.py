"""Small resident warehouses in the shared layout (residents-contract.md), for the residents tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import pyarrow as pa
from hypothesis import Phase, settings
from hypothesis import strategies as st

from zhixiang.catalog import load_catalog
from zhixiang.identity import validate_id_number

AS_OF = date(2026, 6, 30)
ROLES_AFTER_APPLICANT = ("配偶", "子女", "父母", "其他")
HOUSE_SCHEMA = pa.schema(
    [
        ("house_id", pa.string()),
        ("area", pa.decimal128(12, 2)),
        ("house_type", pa.string()),
        ("region", pa.string()),
    ]
)
OWNER_SCHEMA = pa.schema(
    [("house_id", pa.string()), ("id_number", pa.string()), ("share", pa.decimal128(6, 4))]
)
MEMBER_SCHEMA = pa.schema(
    [("household_id", pa.string()), ("id_number", pa.string()), ("role", pa.string())]
)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_number(serial: int, born: date, male: bool = True) -> str:
    """A valid 18-digit 身份证号 of 天河区 (440106) with the given birth date."""
    seq = (serial % 500) * 2 + (1 if male else 0)
    body = f"440106{born:%Y%m%d}{seq:03d}"
    return body + _CHECK[sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11]


# Values cluster where the resident policies decide: birthdays near AS_OF at 18/30/60/65, incomes
# at the 低保 standard and the 公租房 limit, houses around 15 m² a head.
_birth = st.one_of(
    st.none(),
    st.sampled_from([18, 30, 60, 65]).flatmap(
        lambda age: st.integers(-1, 1).map(
            lambda d: date(AS_OF.year - age, AS_OF.month, AS_OF.day) + timedelta(days=d)
        )
    ),
    st.dates(date(1930, 1, 1), date(2025, 12, 31)),
)
_income = st.one_of(
    st.none(),
    st.sampled_from(["0", "1308.99", "1309", "1963.5", "4162.67", "4162.66", "12488"]).map(Decimal),
    st.decimals(min_value=0, max_value=30000, places=2, allow_nan=False, allow_infinity=False),
)
_flag = st.one_of(st.none(), st.booleans())
_region = st.one_of(st.none(), st.sampled_from(["440106001", "440104002", "350203001"]))


def _enum(name: str):
    return st.one_of(st.none(), st.sampled_from(load_catalog("person")[name].values))


person_facts = st.fixed_dictionaries(
    {
        "birth_date": _birth,
        "household_region": _region,
        "residence_region": _region,
        "monthly_income": _income,
        "disability_level": _enum("disability_level"),
        "low_income": _flag,
        "extreme_poverty": _flag,
        "ltc_disability_grade": _enum("ltc_disability_grade"),
        "medical_insured": _flag,
    }
)
household_facts = st.fixed_dictionaries(
    {
        "registration_type": st.one_of(st.none(), st.sampled_from(["城镇", "农村"])),
        "financial_assets": st.none(),
    }
)
member_list = st.tuples(
    person_facts,  # the applicant
    st.lists(st.tuples(st.sampled_from(ROLES_AFTER_APPLICANT), person_facts), max_size=4),
)
house = st.tuples(
    st.sampled_from(["20", "30", "45.5", "80"]).map(Decimal),
    st.sampled_from(["1", "0.5", "0.3333"]).map(Decimal),
)
households = st.lists(
    st.tuples(household_facts, member_list, st.lists(house, max_size=2)), min_size=1, max_size=6
)


def warehouse_tables(drawn: Sequence) -> dict[str, pa.Table]:
    """Tables in the contract layout from drawn households; each house is owned by one member."""
    persons, homes, links, houses, owners = [], [], [], [], []
    serial = 0
    for h, (hfacts, (applicant, others), owned) in enumerate(drawn):
        hid = f"H{h:05d}"
        homes.append({"household_id": hid, "region": "440106001", **hfacts})
        ids = []
        for role, facts in [("申请人", applicant), *others]:
            serial += 1
            born = facts["birth_date"]
            # The 身份证号 carries a birth date even when 出生日期 is missing (the age falls back to it).
            pid = id_number(serial, born or date(1980, 1, 1) + timedelta(days=serial))
            assert validate_id_number(pid) == pid
            persons.append({"id_number": pid, "name": f"居民{serial}", **facts})
            links.append({"household_id": hid, "id_number": pid, "role": role})
            ids.append(pid)
        for k, (area, share) in enumerate(owned):
            house_id = f"{hid}-{k}"
            houses.append(
                {"house_id": house_id, "area": area, "house_type": "商品房", "region": "440106001"}
            )
            owners.append({"house_id": house_id, "id_number": ids[k % len(ids)], "share": share})
    return {
        "person": pa.Table.from_pylist(persons, schema=load_catalog("person").arrow_schema()),
        "household": pa.Table.from_pylist(homes, schema=load_catalog("household").arrow_schema()),
        "household_member": pa.Table.from_pylist(links, schema=MEMBER_SCHEMA),
        "house": pa.Table.from_pylist(houses, schema=HOUSE_SCHEMA),
        "house_owner": pa.Table.from_pylist(owners, schema=OWNER_SCHEMA),
    }


#: For `find`: any example that meets the condition will do, so no shrinking (shrinking one took
#: minutes of the suite).
ANY_EXAMPLE = settings(phases=[Phase.generate], database=None, max_examples=500)
