"""Residents benchmark: persons in households × the Guangzhou resident policies.

Three implementations of the same rules, with agreement on every count (eligible / needs
information / ineligible per policy):
  - the engine: the policy files compiled to SQL through Ibis (one query for all household policies,
    one GROUP BY over members; one for all person policies), DuckDB;
  - hand-written NumPy group-bys (np.bincount over the member→household index), three-valued masks;
  - OpenFisca-Core with a person and a household group entity (roles 申请人/配偶/子女/父母/其他),
    the household policies and the person policies written as OpenFisca variables.
Also the one-household calculator: p50/p99 of `HouseholdLookup` + evaluate every policy.

    .venv/bin/python benchmarks/residents_bench.py --persons 100000 --repeats 3

Median of `--repeats` runs after one warm-up; CPU time (all threads) beside wall time; load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zhixiang.demo import generate_residents, resident_policies_dir
from zhixiang.matching import HouseholdLookup, resident_counts
from zhixiang.rules import evaluate_policy, load_policies

AS_OF = date(2026, 6, 30)
Counts = dict[str, tuple[int, int, int]]  # policy id → (eligible, needs_information, ineligible)
Tri = tuple[np.ndarray, np.ndarray]  # (surely true, surely false); neither = unknown


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}/{fifteen:.1f}"


def measured(fn: Callable[[], Any], repeats: int) -> tuple[Any, dict]:
    """One warm-up, then the median of `repeats` runs, with CPU time and the load average."""
    out = fn()
    walls, cpus = [], []
    for _ in range(repeats):
        c, t = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return out, {
        "wall": statistics.median(walls),
        "cpu": statistics.median(cpus),
        "walls": walls,
        "load": os.getloadavg()[0],
    }


def fmt(m: dict) -> str:
    runs = ", ".join(f"{w:.2f}" for w in m["walls"])
    return f"wall {m['wall']:.2f} s (runs {runs}), CPU {m['cpu']:.2f} s, load {m['load']:.1f}"


# ---------------------------------------------------------------- three-valued masks


def tri(value: np.ndarray, known: np.ndarray) -> Tri:
    return value & known, ~value & known


def t_and(*xs: Tri) -> Tri:
    t, f = xs[0]
    for a, b in xs[1:]:
        t, f = t & a, f | b
    return t, f


def t_or(*xs: Tri) -> Tri:
    t, f = xs[0]
    for a, b in xs[1:]:
        t, f = t | a, f & b
    return t, f


def t_not(x: Tri) -> Tri:
    return x[1], x[0]


def status_counts(conditions: list[Tri]) -> tuple[int, int, int]:
    failed = np.logical_or.reduce([f for _, f in conditions])
    passed = np.logical_and.reduce([t for t, _ in conditions])
    return int(passed.sum()), int((~failed & ~passed).sum()), int(failed.sum())


# ---------------------------------------------------------------- facts as arrays


class Facts:
    """The warehouse tables as NumPy arrays: person columns with known-masks, the member index."""

    def __init__(self, tables: dict[str, pa.Table], as_of: date) -> None:
        person, members = tables["person"], tables["household_member"]
        homes, houses, owners = tables["household"], tables["house"], tables["house_owner"]
        self.n = person.num_rows
        ids = person["id_number"].combine_chunks()
        index = {pid: i for i, pid in enumerate(ids.to_pylist())}

        def col(name: str) -> pa.Array:
            return person[name].combine_chunks()

        def known(name: str) -> np.ndarray:
            return ~np.asarray(col(name).is_null())

        def text(name: str) -> np.ndarray:
            return np.asarray(col(name).fill_null("").to_numpy(zero_copy_only=False), dtype=object)

        def flag(name: str) -> Tri:
            values = np.asarray(col(name).fill_null(False).to_numpy(zero_copy_only=False), bool)
            return tri(values, known(name))

        born = col("birth_date")
        year = np.asarray(pc.year(born).fill_null(0).to_numpy(zero_copy_only=False), np.int64)
        md = np.asarray(
            pc.add(pc.multiply(pc.month(born), 100), pc.day(born))
            .fill_null(0)
            .to_numpy(zero_copy_only=False),
            np.int64,
        )
        has_birth = known("birth_date")
        id_year = np.asarray(
            pc.cast(pc.utf8_slice_codeunits(ids, 6, 10), pa.int64()).to_numpy(zero_copy_only=False)
        )
        id_md = np.asarray(
            pc.cast(pc.utf8_slice_codeunits(ids, 10, 14), pa.int64()).to_numpy(zero_copy_only=False)
        )
        year = np.where(has_birth, year, id_year)
        md = np.where(has_birth, md, id_md)
        self.age = as_of.year - year - (md > as_of.month * 100 + as_of.day)
        self.age_known = np.ones(self.n, bool)  # every 身份证号 carries a birth date
        income = col("monthly_income")
        self.income_known = known("monthly_income")
        self.income_c = np.rint(
            np.asarray(pc.cast(income.fill_null(0), pa.float64()).to_numpy(zero_copy_only=False))
            * 100
        ).astype(np.int64)
        hukou = text("household_region")
        residence = text("residence_region")
        self.hukou_gz = tri(
            np.char.startswith(hukou.astype(str), "4401"), known("household_region")
        )
        self.hukou_th = tri(
            np.char.startswith(hukou.astype(str), "440106"), known("household_region")
        )
        self.resid_gz = tri(
            np.char.startswith(residence.astype(str), "4401"), known("residence_region")
        )
        level = text("disability_level")
        lk = known("disability_level")
        self.disabled = tri(np.isin(level, ["一级", "二级", "三级", "四级"]), lk)
        self.severe = tri(np.isin(level, ["一级", "二级"]), lk)
        self.level3 = tri(np.isin(level, ["一级", "二级", "三级"]), lk)
        self.low_income = flag("low_income")
        self.extreme = flag("extreme_poverty")
        self.insured = flag("medical_insured")
        self.ltc = tri(
            np.isin(text("ltc_disability_grade"), ["轻度", "中度", "重度"]),
            known("ltc_disability_grade"),
        )

        # houses: area × share in units of 1e-8 m², summed per owner
        area = dict(zip(houses["house_id"].to_pylist(), houses["area"].to_pylist(), strict=True))
        owned = np.zeros(self.n, np.int64)
        owns = np.zeros(self.n, bool)
        for hid, pid, share in zip(
            owners["house_id"].to_pylist(),
            owners["id_number"].to_pylist(),
            owners["share"].to_pylist(),
            strict=True,
        ):
            i = index.get(pid)
            if i is None or hid not in area:
                continue
            owned[i] += int(area[hid] * 100) * int(share * 1_000_000)
            owns[i] |= share > 0
        self.owned, self.owns = owned, owns

        hh_ids = homes["household_id"].to_pylist()
        hh_index = {h: k for k, h in enumerate(hh_ids)}
        self.h = len(hh_ids)
        self.urban = tri(
            np.asarray(
                homes["registration_type"].fill_null("").to_numpy(zero_copy_only=False), object
            )
            == "城镇",
            ~np.asarray(homes["registration_type"].is_null()),
        )
        link_h = np.array([hh_index.get(h, -1) for h in members["household_id"].to_pylist()])
        link_p = np.array([index.get(p, -1) for p in members["id_number"].to_pylist()])
        keep = (link_h >= 0) & (link_p >= 0)
        self.m_h, self.m_p = link_h[keep], link_p[keep]
        roles = np.asarray(members["role"].to_numpy(zero_copy_only=False), object)[keep]
        self.applicant = np.full(self.h, -1)
        is_app = roles == "申请人"
        self.applicant[self.m_h[is_app]] = self.m_p[is_app]


# ---------------------------------------------------------------- hand-written NumPy group-bys


def numpy_counts(f: Facts) -> Counts:
    h, mh, mp = f.h, f.m_h, f.m_p
    members = np.bincount(mh, minlength=h)

    def hsum(values: np.ndarray) -> np.ndarray:
        return np.bincount(mh, weights=values[mp].astype(np.float64), minlength=h)

    def hcount(flags: np.ndarray) -> np.ndarray:
        return np.bincount(mh, weights=flags[mp].astype(np.float64), minlength=h).astype(np.int64)

    def applicant(x: Tri) -> Tri:
        has = f.applicant >= 0
        a = np.where(has, f.applicant, 0)
        return x[0][a] & has, x[1][a] & has

    income_unknown = hcount(~f.income_known) > 0
    income = hsum(np.where(f.income_known, f.income_c, 0)).astype(np.int64)  # cents, exact < 2^53
    income_k = ~income_unknown & (members > 0)
    hukou = applicant(f.hukou_gz)

    def money_cmp(lhs: np.ndarray, rhs: np.ndarray, op: Callable) -> Tri:
        return tri(op(lhs, rhs), income_k)

    counts: Counts = {}
    std = 1309_00
    counts["gz-dibao"] = status_counts([hukou, money_cmp(income, std * members, np.less)])
    counts["gz-dibao-edge"] = status_counts(
        [
            hukou,
            money_cmp(income, std * members, np.greater_equal),
            money_cmp(income * 2, 3927 * 100 * members, np.less),
        ]
    )
    # 公租房: income × 12 ≤ limit × count, limit ×130% when all members are 60+
    all_old = tri(hcount(f.age < 60) == 0, np.ones(h, bool))  # every age is known (from the ID)
    limit_t = income * 12 <= 49952_00 * members
    limit_old = income * 12 * 10 <= 49952_00 * 13 * members
    income_ok: Tri = (
        income_k & ((all_old[0] & limit_old) | (all_old[1] & limit_t)),
        income_k & ((all_old[0] & ~limit_old) | (all_old[1] & ~limit_t)),
    )
    none_owned = hcount(f.owns) == 0
    small = hsum(f.owned) < 15 * 10**8 * members
    housing = tri(none_owned | small, np.ones(h, bool))
    app_age = np.where(f.applicant >= 0, f.age[np.maximum(f.applicant, 0)], -1)
    single = tri((members >= 2) | (app_age >= 30), (members >= 2) | (f.applicant >= 0))
    counts["gz-public-rental"] = status_counts([f.urban, hukou, single, income_ok, housing])
    hard = t_or(f.low_income, f.extreme, f.level3)
    n_true, n_unknown = hcount(hard[0]), hcount(~hard[0] & ~hard[1])
    hardship = (n_true > 0, (n_true == 0) & (n_unknown == 0))
    counts["gz-rent-subsidy-waiting"] = status_counts(
        [f.urban, hukou, income_ok, housing, hardship]
    )

    def age_at_least(years: int) -> Tri:
        return tri(f.age >= years, f.age_known)

    counts["gz-tekun-living"] = status_counts([f.extreme, f.hukou_th])
    counts["gz-disability-living"] = status_counts([f.disabled, f.low_income, f.hukou_gz])
    counts["gz-disability-care"] = status_counts([f.severe, f.hukou_gz])
    resident = t_or(f.hukou_gz, f.resid_gz)
    counts["gz-elderly-transit-half"] = status_counts(
        [t_and(age_at_least(60), t_not(age_at_least(65))), resident]
    )
    counts["gz-elderly-transit-free"] = status_counts([age_at_least(65), resident])
    counts["gz-meal-subsidy"] = status_counts([age_at_least(60), f.hukou_gz, f.resid_gz])
    counts["gz-meal-delivery"] = status_counts([age_at_least(60), f.hukou_gz, f.severe])
    counts["gz-ltc"] = status_counts([f.insured, age_at_least(18), f.ltc])
    return counts


# ---------------------------------------------------------------- OpenFisca-Core

TRI_FALSE, TRI_UNKNOWN, TRI_TRUE = (
    0,
    1,
    2,
)  # three-valued logic as ordered ints: AND = min, OR = max


class OpenFiscaModel:
    """A TaxBenefitSystem with a person entity and a household group entity with roles."""

    def __init__(self) -> None:
        from openfisca_core.entities import build_entity
        from openfisca_core.periods import DateUnit
        from openfisca_core.taxbenefitsystems import TaxBenefitSystem
        from openfisca_core.variables import Variable

        person = build_entity(key="person", plural="persons", label="人", is_person=True)
        household = build_entity(
            key="household",
            plural="households",
            label="户",
            roles=[
                {"key": "applicant", "max": 1},
                {"key": "spouse", "max": 1},
                {"key": "child", "plural": "children"},
                {"key": "parent", "plural": "parents"},
                {"key": "other", "plural": "others"},
            ],
        )
        self.tbs = TaxBenefitSystem([person, household])
        self.person_inputs = [
            "age", "income_c", "income_known", "hukou_gz", "hukou_th", "resid_gz", "disabled",
            "severe", "level3", "low_income", "extreme", "insured", "ltc", "owned", "owns",
        ]  # fmt: skip
        ints = {"age", "income_c", "owned", "hukou_gz", "hukou_th", "resid_gz", "disabled", "severe",
                "level3", "low_income", "extreme", "insured", "ltc"}  # fmt: skip
        APPLICANT = household.APPLICANT

        def add(name: str, entity: Any, value_type: type, formula: Callable | None = None) -> None:
            body: dict[str, Any] = {
                "value_type": value_type,
                "entity": entity,
                "definition_period": DateUnit.YEAR,
            }
            if formula is not None:
                body["formula"] = formula
            self.tbs.add_variable(type(name, (Variable,), body))

        for name in self.person_inputs:
            add(name, person, int if name in ints else bool)
        add("urban", household, int)

        def tri_cmp(ok: np.ndarray, known: np.ndarray) -> np.ndarray:
            return np.where(known, np.where(ok, TRI_TRUE, TRI_FALSE), TRI_UNKNOWN)

        def income_parts(h: Any, period: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            known = h.members("income_known", period)
            total = h.sum(np.where(known, h.members("income_c", period), 0))
            unknown = h.sum(~known) > 0
            n = h.nb_persons()
            return total, ~unknown & (n > 0), n

        def hukou(h: Any, period: Any) -> np.ndarray:
            return h.value_from_person(
                h.members("hukou_gz", period), role=APPLICANT, default=TRI_UNKNOWN
            )

        def dibao(h, period):
            total, known, n = income_parts(h, period)
            return np.minimum(hukou(h, period), tri_cmp(total < 1309_00 * n, known))

        def dibao_edge(h, period):
            total, known, n = income_parts(h, period)
            return np.minimum.reduce(
                [
                    hukou(h, period),
                    tri_cmp(total >= 1309_00 * n, known),
                    tri_cmp(total * 2 < 3927_00 * n, known),
                ]
            )

        def income_ok(h: Any, period: Any) -> np.ndarray:
            total, known, n = income_parts(h, period)
            all_old = h.all(h.members("age", period) >= 60)
            within = np.where(all_old, total * 120 <= 49952_00 * 13 * n, total * 12 <= 49952_00 * n)
            return tri_cmp(within, known)

        def housing(h: Any, period: Any) -> np.ndarray:
            ok = ~h.any(h.members("owns", period)) | (
                h.sum(h.members("owned", period)) < 15 * 10**3 * h.nb_persons()
            )
            return np.where(ok, TRI_TRUE, TRI_FALSE)

        def public_rental(h, period):
            n = h.nb_persons()
            app_age = h.value_from_person(h.members("age", period), role=APPLICANT, default=-1)
            single = np.where((n >= 2) | (app_age >= 30), TRI_TRUE, TRI_FALSE)
            return np.minimum.reduce(
                [
                    h("urban", period),
                    hukou(h, period),
                    single,
                    income_ok(h, period),
                    housing(h, period),
                ]
            )

        def rent_subsidy(h, period):
            hard = np.maximum.reduce(
                [h.members(v, period) for v in ("low_income", "extreme", "level3")]
            )
            hardship = h.max(hard)
            return np.minimum.reduce(
                [
                    h("urban", period),
                    hukou(h, period),
                    income_ok(h, period),
                    housing(h, period),
                    hardship,
                ]
            )

        def at_least(p: Any, period: Any, years: int) -> np.ndarray:
            return np.where(p("age", period) >= years, TRI_TRUE, TRI_FALSE)

        def resident(p, period):
            return np.maximum(p("hukou_gz", period), p("resid_gz", period))

        person_rules: dict[str, Callable] = {
            "gz-tekun-living": lambda p, period: np.minimum(
                p("extreme", period), p("hukou_th", period)
            ),
            "gz-disability-living": lambda p, period: np.minimum.reduce(
                [p("disabled", period), p("low_income", period), p("hukou_gz", period)]
            ),
            "gz-disability-care": lambda p, period: np.minimum(
                p("severe", period), p("hukou_gz", period)
            ),
            "gz-elderly-transit-half": lambda p, period: np.minimum.reduce(
                [at_least(p, period, 60), TRI_TRUE - at_least(p, period, 65), resident(p, period)]
            ),
            "gz-elderly-transit-free": lambda p, period: np.minimum(
                at_least(p, period, 65), resident(p, period)
            ),
            "gz-meal-subsidy": lambda p, period: np.minimum.reduce(
                [at_least(p, period, 60), p("hukou_gz", period), p("resid_gz", period)]
            ),
            "gz-meal-delivery": lambda p, period: np.minimum.reduce(
                [at_least(p, period, 60), p("hukou_gz", period), p("severe", period)]
            ),
            "gz-ltc": lambda p, period: np.minimum.reduce(
                [p("insured", period), at_least(p, period, 18), p("ltc", period)]
            ),
        }
        household_rules = {
            "gz-dibao": dibao,
            "gz-dibao-edge": dibao_edge,
            "gz-public-rental": public_rental,
            "gz-rent-subsidy-waiting": rent_subsidy,
        }
        self.rules = {
            **{k: "household" for k in household_rules},
            **{k: "person" for k in person_rules},
        }
        for pid, formula in household_rules.items():
            add(pid.replace("-", "_"), household, int, formula)
        for pid, formula in person_rules.items():
            add(pid.replace("-", "_"), person, int, formula)

    def run(self, f: Facts) -> Counts:
        """A simulation over all persons and households; a policy's status is the AND of its
        conditions (min), so TRI_TRUE = eligible, TRI_UNKNOWN = needs information.

        OpenFisca compares and stops at the first unknown per condition the same way the engine
        does only when each condition is one tri value; conditions combining several facts are
        written with the same min/max.
        """
        from openfisca_core.simulations import SimulationBuilder

        # Persons outside any household (quarantined links) are left out, as the engine leaves them
        # out of household policies; person policies run over all persons of the person table.
        builder = SimulationBuilder()
        builder.create_entities(self.tbs)
        member_order = np.argsort(f.m_h, kind="stable")
        persons = f.m_p[member_order]
        builder.declare_person_entity("person", [str(i) for i in persons])
        households = builder.declare_entity("household", [str(k) for k in range(f.h)])
        roles = np.where(np.isin(persons, f.applicant), "applicant", "other")
        builder.join_with_persons(households, [str(k) for k in f.m_h[member_order]], list(roles))
        sim = builder.build(self.tbs)
        period = str(AS_OF.year)
        as_tri = {
            "hukou_gz": f.hukou_gz, "hukou_th": f.hukou_th, "resid_gz": f.resid_gz, "disabled": f.disabled,
            "severe": f.severe, "level3": f.level3, "low_income": f.low_income, "extreme": f.extreme,
            "insured": f.insured, "ltc": f.ltc,
        }  # fmt: skip
        for name in self.person_inputs:
            if name in as_tri:
                t, fa = as_tri[name]
                values = np.where(t, TRI_TRUE, np.where(fa, TRI_FALSE, TRI_UNKNOWN))
            elif name == "owned":  # OpenFisca ints are 32-bit: 1e-3 m², exact for shares 0.5 and 1
                values = f.owned // 10**5
            else:
                values = getattr(f, name)
            sim.set_input(name, period, np.asarray(values)[persons])
        t, fa = f.urban
        sim.set_input("urban", period, np.where(t, TRI_TRUE, np.where(fa, TRI_FALSE, TRI_UNKNOWN)))
        counts: Counts = {}
        for pid in self.rules:
            status = sim.calculate(pid.replace("-", "_"), period)
            counts[pid] = (
                int((status == TRI_TRUE).sum()),
                int((status == TRI_UNKNOWN).sum()),
                int((status == TRI_FALSE).sum()),
            )
        return counts


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import duckdb
    import ibis

    print(
        f"residents bench: {args.persons:,} persons, shared machine, {os.cpu_count()} cores, {load()}"
    )
    print(
        f"versions: ibis {ibis.__version__}, duckdb {duckdb.__version__}, numpy {np.__version__}, "
        f"openfisca-core {metadata.version('openfisca-core')}, python {sys.version.split()[0]}"
    )
    policies = [p for p in load_policies([resident_policies_dir()]).policies if p.in_force(AS_OF)]
    t = time.perf_counter()
    residents = generate_residents(args.persons, seed=7, reference=AS_OF)
    tables = {k: v for k, v in residents.tables().items() if k != "person_enterprise"}
    print(
        f"generated {tables['person'].num_rows:,} persons, {tables['household'].num_rows:,} households, "
        f"{tables['house'].num_rows:,} houses in {time.perf_counter() - t:.1f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "residents.duckdb"
        con = ibis.duckdb.connect(str(path), threads=args.threads)
        for name, table in tables.items():
            con.create_table(name, table, overwrite=True)
        con.raw_sql("CREATE INDEX person_key ON person(id_number)")
        con.raw_sql("CREATE INDEX member_key ON household_member(household_id)")
        con.raw_sql("CREATE INDEX owner_key ON house_owner(id_number)")
        con.raw_sql("CREATE INDEX household_key ON household(household_id)")

        from zhixiang.matching import count_queries

        def compile_all() -> list[tuple[list, str]]:
            return count_queries(policies, con, AS_OF, cache={})  # a fresh cache: really compiled

        # Matching keeps the compiled SQL per policy version, so a run executes SQL it compiled
        # before; compiling is measured apart. All household policies are one query (one GROUP BY
        # over members for every aggregate), all person policies another.
        queries, compile_m = measured(compile_all, 1)
        sizes = ", ".join(f"{len(g)} policies {len(sql):,} chars" for g, sql in queries)
        print(
            f"engine: compile 12 policies to 2 SQL queries ({sizes}), once per policy version: {fmt(compile_m)}"
        )

        def engine() -> Counts:
            return {
                c.policy_id: (c.eligible, c.needs_information, c.ineligible)
                for c in resident_counts(policies, con, AS_OF)
            }

        engine_counts, engine_m = measured(engine, args.repeats)
        print(
            f"engine: resident_counts on DuckDB (cached SQL), {args.threads} threads: {fmt(engine_m)}"
        )

        facts, prep_m = measured(lambda: Facts(tables, AS_OF), 1)
        print(f"arrays for the hand-written and OpenFisca runs (not timed below): {fmt(prep_m)}")
        np_counts, np_m = measured(lambda: numpy_counts(facts), args.repeats)
        print(f"hand-written NumPy group-bys, 1 thread: {fmt(np_m)}")
        model = OpenFiscaModel()
        of_counts, of_m = measured(lambda: model.run(facts), args.repeats)
        print(f"OpenFisca-Core (simulation + inputs + calculate), 1 thread: {fmt(of_m)}")

        print(f"\n{'policy':28} {'eligible':>9} {'needs':>9} {'ineligible':>11}  agreement")
        agree = True
        for pid in sorted(engine_counts):
            e = engine_counts[pid]
            same = np_counts.get(pid) == e and of_counts.get(pid) == e
            agree &= same
            note = (
                "engine = numpy = openfisca"
                if same
                else f"numpy {np_counts.get(pid)} openfisca {of_counts.get(pid)}"
            )
            print(f"{pid:28} {e[0]:>9,} {e[1]:>9,} {e[2]:>11,}  {note}")
        print(f"all counts agree: {agree}")
        con.disconnect()

        lookup = HouseholdLookup(f"duckdb://{path}")
        ids = tables["household"]["household_id"].to_pylist()
        rng = np.random.default_rng(1)
        picks = [ids[i] for i in rng.integers(0, len(ids), args.lookups)]
        resident_policies = [p for p in policies if p.entity in ("household", "person")]
        times, cpu_times = [], []
        for hid in picks[:20]:  # warm-up
            lookup(hid)
        for hid in picks:
            start, cpu = time.perf_counter(), time.process_time()
            facts_h = lookup(hid)
            for p in resident_policies:
                if p.entity == "household":
                    evaluate_policy(p, facts_h, AS_OF, explain=True)
                else:
                    for m in facts_h["__members__"]:
                        evaluate_policy(p, m, AS_OF, explain=True)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu)
        lookup.close()
        q = np.percentile(np.array(times) * 1000, [50, 99])
        qc = np.percentile(np.array(cpu_times) * 1000, [50, 99])
        print(
            f"\ncalculator, one household (lookup + every policy, explained), {args.lookups} random households: "
            f"wall p50 {q[0]:.1f} ms, p99 {q[1]:.1f} ms (target < 50 ms); CPU p50 {qc[0]:.1f} ms, "
            f"p99 {qc[1]:.1f} ms; {load()}"
        )
        ratio_of = of_m["wall"] / engine_m["wall"]
        ratio_np = engine_m["wall"] / np_m["wall"]
        print(
            f"engine vs OpenFisca: {ratio_of:.1f}× faster; engine vs hand-written: {ratio_np:.1f}× the time"
        )
        if not agree:
            sys.exit(1)


if __name__ == "__main__":
    main()
