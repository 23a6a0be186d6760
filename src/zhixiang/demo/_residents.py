"""Synthetic but realistic residents of 广州市天河区: persons in households, houses with owners.

Vectorised and chunked like the enterprise generator, so ten million persons take minutes. Every
身份证号 is valid (GB 11643: a real 地址码, the birth date, a sequence code whose last digit is odd for
men and even for women, and the check digit), unique across all chunks, and agrees with the person's
birth date and sex. The street codes are the real 天河区 streets of the national code list (民政部,
via zhixiang.identity). Households have realistic compositions (独居老人, 夫妻, 有子女, 三代同堂, …)
with exactly one 申请人; incomes and assets are missing at realistic rates; 低保 and 特困 follow the
household's income against the 广州 低保标准 on the reference date, read from the 低保 policy's own
dated parameter (1,309 元/月 from 2025-01-01, 穗民规字〔2025〕2号), so data and policy never disagree.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zhixiang.catalog import load_catalog
from zhixiang.demo._generate import _dates, _decimal, _money, _pick
from zhixiang.identity import region_code_table

DISTRICT = "440106"  # 广州市天河区
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CHARS = np.frombuffer(b"10X98765432", dtype=np.uint8)
_DAYS, _SEQUENCES = (
    365,
    500,
)  # birth-date slots per (地址码, age, sex): day in the age window × sequence
# Where people born elsewhere come from (province → share of the non-local born), migrants to 广州.
_ORIGIN_PROVINCES = {
    "44": 0.5,
    "43": 0.15,
    "45": 0.1,
    "36": 0.07,
    "41": 0.07,
    "42": 0.06,
    "51": 0.05,
}

# Household compositions: share, applicant's age range, spouse?, children (min, max), parents (min, max),
# others (min, max).
_COMPOSITIONS = (
    ("单身", 0.18, (18, 59), 0, (0, 0), (0, 0), (0, 0)),
    ("独居老人", 0.08, (60, 96), 0, (0, 0), (0, 0), (0, 0)),
    ("夫妻", 0.12, (22, 59), 1, (0, 0), (0, 0), (0, 0)),
    ("老年夫妻", 0.10, (60, 92), 1, (0, 0), (0, 0), (0, 0)),
    ("夫妻与子女", 0.30, (26, 56), 1, (1, 3), (0, 0), (0, 0)),
    ("单亲与子女", 0.05, (26, 56), 0, (1, 2), (0, 0), (0, 0)),
    ("三代同堂", 0.13, (30, 55), 1, (1, 2), (1, 2), (0, 0)),
    ("其他亲属同住", 0.04, (20, 70), 0, (0, 0), (0, 0), (1, 1)),
)
_ROLES = np.array(["申请人", "配偶", "子女", "父母", "其他"], dtype=object)
_SURNAMES = list("陈李黄张梁林刘吴罗何郑杨谢周邓冯叶曾许苏王朱卢蔡钟彭潘")
_MALE_GIVEN = list("伟强军杰俊浩明辉志华文斌宇鹏健涛建国庆永")
_FEMALE_GIVEN = list("芳丽敏静婷娟霞燕玲红秀英慧颖琳欣怡雪梅兰")
_LEVELS = ("一级", "二级", "三级", "四级")
_CATEGORIES = ("肢体", "视力", "听力", "言语", "智力", "精神", "多重")


@dataclass(frozen=True)
class Residents:
    """One chunk of residents: the entity and link tables of docs/residents.md, in catalog schemas."""

    person: pa.Table
    household: pa.Table
    household_member: pa.Table
    house: pa.Table
    house_owner: pa.Table
    person_enterprise: pa.Table

    def tables(self) -> dict[str, pa.Table]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@cache
@cache
def low_income_standard(as_of: date) -> float:
    """广州市最低生活保障标准 (元/月) on `as_of`: the 低保 policy's parameter (its first version
    before it starts)."""
    from zhixiang.rules import parse_policy

    path = Path(__file__).parent / "policies" / "residents" / "gz-dibao.yaml"
    standard = parse_policy(path.read_text("utf-8"), path).parameters["低保标准"]
    value = standard.value_at(as_of)
    return float(standard.versions[0][1] if value is None else value)  # type: ignore[arg-type]


def tianhe_streets() -> tuple[str, ...]:
    """The real street codes (9 digits) of 天河区 in the national code list."""
    table = region_code_table()
    codes = pc.filter(table["code"], pc.equal(table["parent"], DISTRICT)).to_pylist()
    if not codes:
        raise RuntimeError("行政区划代码表中没有天河区（440106）的街道")
    return tuple(sorted(codes))


@cache
def _origins() -> tuple[np.ndarray, np.ndarray]:
    """Real county codes of the migrants' provinces, with a probability each (province share / counties)."""
    table = region_code_table().to_pylist()
    codes, weights = [], []
    for province, share in _ORIGIN_PROVINCES.items():
        counties = [
            r["code"]
            for r in table
            if r["level"] == 3 and r["code"].startswith(province) and r["code"] != DISTRICT
        ]
        codes += counties
        weights += [share / len(counties)] * len(counties)
    return np.array(codes), np.array(weights) / sum(weights)


def generate_residents(
    count: int,
    seed: int = 0,
    reference: date | None = None,
    enterprises: Sequence[str] = (),
) -> Residents:
    """`count` persons as of `reference` (default today) with their households and houses, in one piece.

    Given `enterprises` (统一社会信用代码), some persons are linked to them (参保单位, 法定代表人, 股东).
    """
    (chunk,) = iter_residents(count, seed, reference, chunk=max(count, 1), enterprises=enterprises)
    return chunk


def iter_residents(
    count: int,
    seed: int = 0,
    reference: date | None = None,
    chunk: int = 1_000_000,
    enterprises: Sequence[str] = (),
) -> Iterator[Residents]:
    """The same in chunks of about `chunk` persons (whole households), so ten million fit in memory."""
    reference = reference or date.today()
    chunks = max(1, -(-count // chunk))
    first_household = first_house = 0
    for index in range(chunks):
        n = min(chunk, count - index * chunk)
        part = _chunk(n, seed, reference, index, chunks, first_household, first_house, enterprises)
        first_household += part.household.num_rows
        first_house += part.house.num_rows
        yield part


def _chunk(
    n: int,
    seed: int,
    reference: date,
    index: int,
    chunks: int,
    first_household: int,
    first_house: int,
    enterprises: Sequence[str],
) -> Residents:
    rng = np.random.default_rng([seed, index])
    streets = np.array(tianhe_streets())

    # -- households and their members ----------------------------------------------------------
    shares = np.array([c[1] for c in _COMPOSITIONS])
    h = int(n / 2.4) + 16  # more than enough; cut to exactly n persons below
    kind = rng.choice(len(_COMPOSITIONS), size=h, p=shares / shares.sum())

    def spread(ranges: list[tuple[int, int]]) -> np.ndarray:
        low = np.array([r[0] for r in ranges])[kind]
        high = np.array([r[1] for r in ranges])[kind]
        return rng.integers(low, high + 1)

    spouses = np.array([c[3] for c in _COMPOSITIONS])[kind]
    children = spread([c[4] for c in _COMPOSITIONS])
    parents = spread([c[5] for c in _COMPOSITIONS])
    others = spread([c[6] for c in _COMPOSITIONS])
    sizes = 1 + spouses + children + parents + others
    ends = np.cumsum(sizes)
    h = int(np.searchsorted(ends, n)) + 1  # households needed to reach n persons
    kind, spouses, children, parents, others = (
        a[:h] for a in (kind, spouses, children, parents, others)
    )
    sizes = sizes[:h].copy()
    sizes[-1] -= int(
        ends[h - 1] - n
    )  # the last household loses its last members (never its 申请人)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    member_of = np.repeat(np.arange(h), sizes)
    position = np.arange(n) - starts[member_of]
    bounds = np.cumsum(
        np.stack([np.ones(h, int), spouses, children, parents, others], axis=1), axis=1
    )
    role_index = (position[:, None] >= bounds[member_of]).sum(axis=1)
    role = _ROLES[role_index]

    low = np.array([c[2][0] for c in _COMPOSITIONS])[kind]
    high = np.array([c[2][1] for c in _COMPOSITIONS])[kind]
    applicant_age = rng.integers(low, high + 1)[member_of]
    age = np.select(
        [role_index == 0, role_index == 1, role_index == 2, role_index == 3],
        [
            applicant_age,
            applicant_age + np.round(rng.normal(-1, 3, n)).astype(int),
            applicant_age - rng.integers(22, 39, n),
            applicant_age + rng.integers(22, 36, n),
        ],
        applicant_age + rng.integers(-10, 11, n),
    )
    age = np.clip(age, np.where(role_index == 1, 18, 0), 100)
    applicant_male = rng.random(h) < 0.55
    male = np.select(
        [role_index == 0, role_index == 1, role_index == 3],
        [
            applicant_male[member_of],
            ~applicant_male[member_of],
            (position - bounds[member_of, 2]) % 2 == 0,  # two parents: a father and a mother
        ],
        rng.random(n) < 0.51,
    )

    # -- 身份证号: 地址码 + birth date + sequence + check digit, unique over all chunks -------------
    local = rng.random(n) < 0.7
    origin_codes, origin_p = _origins()
    birth_region = np.where(
        local, DISTRICT, origin_codes[rng.choice(len(origin_codes), n, p=origin_p)]
    )
    regions, region_index = np.unique(birth_region, return_inverse=True)
    group = (region_index * 101 + age) * 2 + male
    order = np.argsort(group, kind="stable")
    sorted_group = group[order]
    first_of_group = np.searchsorted(sorted_group, sorted_group, side="left")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - first_of_group
    slot = rank * chunks + index  # chunks interleave, so no two chunks share a slot
    if n and int(slot.max()) >= _DAYS * _SEQUENCES:
        raise ValueError("每个地址码、年龄、性别的身份证号已用尽：请减少人数或增大分块")
    # Each group starts its birthdays on its own day, the same in every chunk (so slots stay unique).
    spread_from = (regions.astype(np.int64)[region_index] * 101 + age) * 2 + male
    day_in_window = (slot + spread_from * 2_654_435_761 % _DAYS) % _DAYS
    sequence = slot // _DAYS
    # Age k: born between floor(365.25·k) + 1 and floor(365.25·k) + 365 days before the reference.
    days_before = np.floor(365.25 * age).astype(np.int64) + 1 + day_in_window
    birth = np.datetime64(reference, "D") - days_before
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (birth.astype("datetime64[M]") - birth.astype("datetime64[Y]")).astype(np.int64) + 1
    day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    sequence_code = sequence * 2 + male
    digits = np.empty((n, 18), dtype=np.int64)
    digits[:, :6] = (
        np.frombuffer("".join(regions).encode(), np.uint8).reshape(-1, 6)[region_index] - 48
    )
    for column, (value, width) in enumerate(((year, 4), (month, 2), (day, 2), (sequence_code, 3))):
        start = 6 + sum((4, 2, 2, 3)[:column])
        for d in range(width):
            digits[:, start + d] = value // 10 ** (width - 1 - d) % 10
    chars = (digits[:, :17] + 48).astype(np.uint8)
    id_chars = np.empty((n, 18), dtype=np.uint8)
    id_chars[:, :17] = chars
    id_chars[:, 17] = _CHECK_CHARS[(digits[:, :17] @ _ID_WEIGHTS) % 11]
    id_number = _flat(pa.array(id_chars.view("S18").ravel()).cast(pa.string()))

    # -- the person's facts ------------------------------------------------------------------------
    working_age = (age >= 16) & (age < 60)
    elderly = age >= 60
    employed = working_age & (rng.random(n) < 0.8)
    income = np.select(
        [age < 16, employed, working_age, elderly],
        [
            np.zeros(n),
            rng.lognormal(np.log(7000), 0.6, n),
            np.where(rng.random(n) < 0.3, rng.uniform(0, 1500, n), 0.0),
            np.where(rng.random(n) < 0.92, rng.lognormal(np.log(4200), 0.5, n), 0.0),
        ],
        0.0,
    )
    poor_household = rng.random(h) < 0.02
    poor = poor_household[member_of]
    income = np.where(poor, np.minimum(income, rng.uniform(0, 1400, n)), income)
    income = np.round(income, 2)
    income_known = rng.random(n) >= 0.06

    disability_rate = np.select([age < 18, age < 60, age < 80], [0.01, 0.02, 0.06], 0.12)
    disabled = rng.random(n) < disability_rate
    level = np.where(
        disabled, np.array(_LEVELS, dtype=object)[rng.choice(4, n, p=[0.1, 0.25, 0.3, 0.35])], "无"
    )
    category = np.where(
        disabled,
        np.array(_CATEGORIES, dtype=object)[
            rng.choice(7, n, p=[0.45, 0.12, 0.15, 0.01, 0.08, 0.12, 0.07])
        ],
        "无",
    )
    severe = np.isin(level, ["一级", "二级"])
    work_ability = working_age & ~severe

    counted = np.where(income_known, income, 0.0)
    per_capita = np.bincount(member_of, weights=counted, minlength=h) / sizes
    household_poor = per_capita < low_income_standard(reference)
    able_adults = np.bincount(member_of, weights=work_ability, minlength=h)
    alone_unable = poor_household & household_poor & (sizes == 1) & (able_adults == 0)
    extreme = (alone_unable[member_of] & (elderly | severe)) & (rng.random(n) < 0.6)
    # 低保 only where the household's known incomes are below the standard (80 % take it up).
    takes_up = (poor_household & household_poor & (rng.random(h) < 0.8))[member_of]
    low_income = takes_up & ~extreme

    ltc_rate = np.select([age < 60, age < 80], [0.0, 0.03], 0.12)
    ltc = np.where(
        rng.random(n) < ltc_rate,
        np.array(["轻度", "中度", "重度"], dtype=object)[rng.choice(3, n, p=[0.5, 0.3, 0.2])],
        "无",
    )

    surname = np.array(_SURNAMES, dtype=object)[rng.integers(0, len(_SURNAMES), h)][member_of]
    surname = np.where(
        role_index == 3,
        np.array(_SURNAMES, dtype=object)[rng.integers(0, len(_SURNAMES), n)],
        surname,
    )
    male_given, female_given = (
        np.array(_MALE_GIVEN, dtype=object),
        np.array(_FEMALE_GIVEN, dtype=object),
    )
    picks = rng.integers(0, len(_MALE_GIVEN), (2, n))
    first_char = np.where(male, male_given[picks[0]], female_given[picks[0]])
    second_char = np.where(
        rng.random(n) < 0.6, np.where(male, male_given[picks[1]], female_given[picks[1]]), ""
    )
    name = pc.binary_join_element_wise(surname, first_char, second_char, "")

    household_street = streets[rng.integers(0, len(streets), h)]
    street = household_street[member_of]
    registered_here = local | (rng.random(n) < 0.5)
    phone_digits = rng.integers(0, 10**9, n)
    phone = pc.binary_join_element_wise(
        np.array(["13", "15", "18", "19"], dtype=object)[rng.integers(0, 4, n)],
        pc.utf8_lpad(pa.array(phone_digits).cast(pa.string()), 9, "0"),
        "",
    )
    education = _pick(
        rng,
        ("小学及以下", "初中", "高中", "大专", "本科", "研究生"),
        n,
        p=(0.1, 0.25, 0.22, 0.16, 0.22, 0.05),
    )

    def known(rate: float) -> np.ndarray:
        return rng.random(n) >= rate

    person_columns = {
        "id_number": id_number,
        "name": name,
        "gender": pa.array(np.where(male, "男", "女")),
        "birth_date": pa.array(birth.astype("datetime64[D]")).cast(pa.date32()),
        "phone": pa.array(phone, mask=~((age >= 18) & known(0.1))),
        "household_region": pa.array(np.where(registered_here, street, birth_region)),
        "education": pa.array(education, mask=age < 18),
        "graduated_on": pa.nulls(n, pa.date32()),
        "employed": pa.array(employed, mask=~known(0.03)),
        "monthly_wage": _money(np.where(employed, income, 0.0), employed),
        "social_insurance_months": pa.array(
            np.clip((age - 20) * 12 * rng.uniform(0.3, 1.0, n), 0, None).astype(np.int64),
            mask=~employed,
        ),
        "unemployment_registered": pa.array(working_age & ~employed & (rng.random(n) < 0.3)),
        "disability_level": pa.array(level),
        "low_income": pa.array(low_income),
        "residence_region": pa.array(street),
        "monthly_income": _money(income, income_known),
        "work_ability": pa.array(work_ability, mask=~known(0.02)),
        "disability_category": pa.array(category),
        "extreme_poverty": pa.array(extreme),
        "ltc_disability_grade": pa.array(ltc),
        "medical_insured": pa.array(rng.random(n) < 0.97),
    }
    household_id = _serials("H" + DISTRICT, first_household, h, 10)
    assets = np.where(
        poor_household, rng.uniform(0, 20_000, h), rng.lognormal(np.log(60_000), 1.3, h)
    )
    household_columns = {
        "household_id": household_id,
        "region": pa.array(household_street),
        "registration_type": pa.array(np.where(rng.random(h) < 0.96, "城镇", "农村")),
        "financial_assets": _money(assets, rng.random(h) >= 0.08),
    }
    member_columns = {
        "household_id": household_id.take(pa.array(member_of)),
        "id_number": id_number,
        "role": pa.array(role),
    }

    # -- houses and their owners -----------------------------------------------------------------
    owned = np.where(
        poor_household,
        rng.choice(2, h, p=[0.9, 0.1]),
        rng.choice(4, h, p=[0.30, 0.52, 0.13, 0.05]),
    )
    k = int(owned.sum())
    house_of = np.repeat(np.arange(h), owned)
    first_house_of = (
        np.concatenate([[True], house_of[1:] != house_of[:-1]]) if k else np.array([], bool)
    )
    house_serial = first_house + np.arange(k)
    house_street = np.where(
        rng.random(k) < 0.9, household_street[house_of], streets[rng.integers(0, len(streets), k)]
    )
    house_id = pc.binary_join_element_wise(
        DISTRICT,
        pc.utf8_slice_codeunits(pa.array(house_street), 6, 9),
        "001GB00001F",
        pc.utf8_lpad(pa.array(house_serial).cast(pa.string()), 8, "0"),
        "",
    )
    house_type = _pick(rng, ("商品房", "房改房", "自建房", "其他"), k, p=(0.74, 0.15, 0.04, 0.07))
    area = np.clip(rng.lognormal(np.log(85), 0.35, k), 15, 400)
    registered_days = rng.integers(0, 30 * 365, k)
    house_columns = {
        "house_id": house_id,
        "address": pa.nulls(k, pa.string()),
        "region": pa.array(house_street),
        "usage": _pick(rng, ("住宅", "商业"), k, p=(0.97, 0.03)),
        "area": _decimal(area, 2),
        "registered_on": _dates(registered_days, reference),
        "built_year": pa.array(reference.year - registered_days // 365 - rng.integers(0, 10, k)),
        "house_type": pa.array(house_type),
    }
    # The 申请人 owns each house; the first house of a couple is often owned jointly, half each.
    applicant_id = _flat(id_number.take(pa.array(starts[house_of])))
    has_spouse = spouses[house_of] == 1
    joint = first_house_of & has_spouse & (sizes[house_of] > 1) & (rng.random(k) < 0.55)
    spouse_id = _flat(id_number.take(pa.array(np.minimum(starts[house_of] + 1, n - 1)[joint])))
    house_id = _flat(house_id)
    owner_house = pa.concat_arrays([house_id, house_id.filter(pa.array(joint))])
    owner_id = pa.concat_arrays([applicant_id, spouse_id])
    share = np.concatenate([np.where(joint, 0.5, 1.0), np.full(int(joint.sum()), 0.5)])
    owner_columns = {"house_id": owner_house, "id_number": owner_id, "share": _decimal(share, 6)}

    # -- persons at enterprises ------------------------------------------------------------------
    links = {"id_number": pa.array([], pa.string()), "credit_code": pa.array([], pa.string())}
    relation = np.array([], dtype=object)
    if enterprises:
        codes = np.array(list(enterprises), dtype=object)
        insured = employed & (rng.random(n) < 0.6)
        legal = (age >= 25) & (rng.random(n) < 0.01)
        holder = (age >= 25) & (rng.random(n) < 0.02)
        who = np.concatenate([np.flatnonzero(m) for m in (insured, legal, holder)])
        relation = np.repeat(
            np.array(["参保单位", "法定代表人", "股东"], dtype=object),
            [int(insured.sum()), int(legal.sum()), int(holder.sum())],
        )
        links = {
            "id_number": id_number.take(pa.array(who, pa.int64())),
            "credit_code": pa.array(codes[rng.integers(0, len(codes), len(who))], pa.string()),
        }
    enterprise_columns = {**links, "relation": pa.array(relation, pa.string())}

    return Residents(
        person=_table("person", person_columns),
        household=_table("household", household_columns),
        household_member=_table("household_member", member_columns),
        house=_table("house", house_columns),
        house_owner=_table("house_owner", owner_columns),
        person_enterprise=_table("person_enterprise", enterprise_columns),
    )


def _flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Large inputs can come back chunked; the tables here are built from single arrays."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _serials(prefix: str, first: int, count: int, width: int) -> pa.Array:
    numbers = pa.array(np.arange(first, first + count, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(numbers, width, "0"), "")


def _table(kind: str, columns: dict[str, object]) -> pa.Table:
    schema = load_catalog(kind).arrow_schema()
    return pa.table([pa.array(columns[f.name]).cast(f.type) for f in schema], schema=schema)
