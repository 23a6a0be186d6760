"""The synthetic residents are valid data: every 身份证号, every household, every house."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pytest

from zhixiang.demo import generate_residents, iter_residents, low_income_standard, tianhe_streets
from zhixiang.identity import lookup_region, validate_id_number

REFERENCE = date(2026, 12, 1)


@pytest.fixture(scope="module")
def residents():
    return generate_residents(6000, seed=3, reference=REFERENCE, enterprises=["91350203MA2YQ9K2XP"])


def test_every_id_number_is_valid_unique_and_agrees_with_birth_date_and_sex(residents) -> None:
    people = residents.person.to_pylist()
    assert len({p["id_number"] for p in people}) == len(people) == 6000
    for p in people:
        number = p["id_number"]
        assert validate_id_number(number) == number
        assert number[6:14] == p["birth_date"].strftime("%Y%m%d")
        assert p["birth_date"] <= REFERENCE
        assert p["gender"] == ("男" if int(number[16]) % 2 else "女")
        assert lookup_region(number[:6]) is not None  # a real county code of today's list


def test_every_household_has_exactly_one_applicant_and_realistic_compositions(residents) -> None:
    members = residents.household_member.to_pylist()
    households = set(residents.household["household_id"].to_pylist())
    applicants = Counter(m["household_id"] for m in members if m["role"] == "申请人")
    assert set(applicants) == households and set(applicants.values()) == {1}
    assert len({m["id_number"] for m in members}) == len(members)  # one household per person
    sizes = Counter(Counter(m["household_id"] for m in members).values())
    assert sizes[1] > 0 and sizes[2] > 0 and max(sizes) >= 5  # 独居 … 三代同堂
    roles = Counter(m["role"] for m in members)
    assert all(roles[r] > 0 for r in ("申请人", "配偶", "子女", "父母", "其他"))
    assert 2.2 < len(members) / len(households) < 3.2
    streets = set(tianhe_streets())
    assert len(streets) >= 20 and all(s.startswith("440106") and len(s) == 9 for s in streets)
    assert set(residents.household["region"].to_pylist()) <= streets


def test_houses_have_owners_in_the_population_with_shares_at_most_one(residents) -> None:
    people = set(residents.person["id_number"].to_pylist())
    shares: dict[str, Decimal] = defaultdict(Decimal)
    for o in residents.house_owner.to_pylist():
        assert o["id_number"] in people
        shares[o["house_id"]] += o["share"]
    assert set(shares) == set(residents.house["house_id"].to_pylist())
    assert all(s <= 1 for s in shares.values())
    member_of = {m["id_number"]: m["household_id"] for m in residents.household_member.to_pylist()}
    owning = Counter(member_of[o["id_number"]] for o in residents.house_owner.to_pylist())
    households = residents.household.num_rows
    assert 0.5 * households < len(owning) < 0.9 * households  # some own none
    assert any(n >= 2 for n in owning.values())  # some own several
    assert {len(h) for h in residents.house["house_id"].to_pylist()} == {28}


def test_rates_and_statuses_are_realistic_and_consistent_with_income(residents) -> None:
    people = residents.person.to_pylist()
    n = len(people)
    missing = sum(p["monthly_income"] is None for p in people) / n
    assert 0.02 < missing < 0.12
    disabled = [p for p in people if p["disability_level"] != "无"]
    assert 0.01 < len(disabled) / n < 0.06
    assert all(p["disability_category"] != "无" for p in disabled)
    member_of = {m["id_number"]: m["household_id"] for m in residents.household_member.to_pylist()}
    income: dict[str, Decimal] = defaultdict(Decimal)
    size: Counter[str] = Counter()
    for p in people:
        hh = member_of[p["id_number"]]
        income[hh] += p["monthly_income"] or 0
        size[hh] += 1
    helped = [p for p in people if p["low_income"] or p["extreme_poverty"]]
    assert helped and len(helped) < 0.05 * n
    standard = low_income_standard(REFERENCE)  # the 低保 policy's own parameter: 1,309 元 in 2025
    for p in helped:
        hh = member_of[p["id_number"]]
        assert income[hh] / size[hh] < standard
        assert not (p["low_income"] and p["extreme_poverty"])
    graded = [p for p in people if p["ltc_disability_grade"] != "无"]
    assert graded and all((REFERENCE - p["birth_date"]).days >= 59 * 365 for p in graded)
    jobs = residents.person_enterprise.to_pylist()
    assert {j["relation"] for j in jobs} == {"参保单位", "法定代表人", "股东"}


def test_chunks_never_repeat_an_id_number_or_a_key() -> None:
    parts = list(iter_residents(9000, seed=1, reference=REFERENCE, chunk=3000))
    assert [p.person.num_rows for p in parts] == [3000, 3000, 3000]
    for kind, key in (
        ("person", "id_number"),
        ("household", "household_id"),
        ("house", "house_id"),
    ):
        values = pa.chunked_array([getattr(p, kind)[key] for p in parts]).to_pylist()
        assert len(set(values)) == len(values), kind
    again = list(iter_residents(9000, seed=1, reference=REFERENCE, chunk=3000))
    assert all(a.person.equals(p.person) for a, p in zip(again, parts, strict=True))  # same seed
