"""Benchmark the rules engine against OpenFisca-Core and hand-written NumPy on the same demo policies.

Run by hand (`make bench`), not in CI. One run generates synthetic enterprises, evaluates the 14 demo
policies three ways, checks that the per-policy counts agree, then times 200 policies over the largest
table and the one-entity calculator. Figures are printed as they are measured.

How each implementation sees the data:
- engine: the compiled Ibis expressions on an in-memory DuckDB table (SQL NULL = unknown).
- NumPy: hand-written vectorised conditions, three-valued logic as (surely true, surely false) masks
  built from a known-mask per fact; money as int64 分, ratios as int64 millionths, so it is exact.
- OpenFisca: one `enterprise` entity, a variable per fact plus a `<fact>__known` flag (OpenFisca has no
  NULL: an unknown fact holds the default value and its flag is False), a variable per condition
  (1 met, 0 failed, 2 unknown) and per policy. Its formulas are the same hand-written NumPy functions,
  fed OpenFisca's own types: `float` is float32 (money in 元), `int` is int32, strings are Enums.
"""

from __future__ import annotations

import argparse
import functools
import gc
import operator
import os
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from importlib import metadata
from typing import Any, Protocol

import duckdb
import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from dateutil.relativedelta import relativedelta

from zhixiang.demo import demo_policies_dir, generate_enterprises
from zhixiang.matching import connect, policy_counts
from zhixiang.rules import Policy, evaluate_policy, load_policies, parse_policy

AS_OF = date(2026, 6, 30)
EPOCH = date(1970, 1, 1)
CENT = Decimal("0.01")

# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Counts:
    """Per-policy outcome counts, the figures all three implementations must agree on."""

    eligible: int
    needs_information: int
    ineligible: int
    near_miss: int
    total_amount: Decimal


COUNT_FIELDS = ("eligible", "needs_information", "ineligible", "near_miss", "total_amount")


@dataclass
class Timing:
    name: str
    seconds: float
    counts: dict[str, Counts] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def say(text: str = "") -> None:
    print(text, flush=True)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}/{fifteen:.1f}"


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


# ---------------------------------------------------------------- three-valued logic on masks

Tri = tuple[np.ndarray, np.ndarray]  # (surely true, surely false); neither = unknown


def flag(f: Facts, name: str) -> Tri:
    value, known = f.value(name), f.known(name)
    return known & value, known & ~value


def compare(f: Facts, name: str, op: Callable[[Any, Any], np.ndarray], threshold: Any) -> Tri:
    result = op(f.value(name), threshold)
    known = f.known(name)
    return known & result, known & ~result


def category(f: Facts, name: str, accept: Callable[[str], bool]) -> Tri:
    result, known = f.category(name, accept)
    return known & result, known & ~result


def negate(t: Tri) -> Tri:
    return t[1], t[0]


def all_of(*ts: Tri) -> Tri:
    return functools.reduce(operator.and_, (t[0] for t in ts)), functools.reduce(
        operator.or_, (t[1] for t in ts)
    )


def any_of(*ts: Tri) -> Tri:
    return functools.reduce(operator.or_, (t[0] for t in ts)), functools.reduce(
        operator.and_, (t[1] for t in ts)
    )


class Facts(Protocol):
    """Entity facts in one implementation's representation, with helpers for unit-aware constants."""

    n: int

    def value(self, name: str) -> np.ndarray: ...
    def known(self, name: str) -> np.ndarray: ...
    def category(
        self, name: str, accept: Callable[[str], bool]
    ) -> tuple[np.ndarray, np.ndarray]: ...
    def money(self, yuan: int | str) -> Any: ...
    def ratio(self, percent: int | str) -> Any: ...
    def day(self, d: date) -> Any: ...
    def param(self, name: str) -> Any: ...
    def pay(self, numerator: np.ndarray, denominator: int, cap_yuan: int | None) -> np.ndarray: ...


# Parameters that change over time, in 元, hand-copied from the policy files.
PARAMETERS: dict[str, dict[date, int]] = {
    "first_above_scale_award": {date(2025, 1, 1): 100_000},
    "hightech_first_award": {date(2025, 1, 1): 200_000, date(2026, 1, 1): 300_000},
    "rd_expense_threshold": {date(2025, 1, 1): 500_000, date(2026, 1, 1): 1_000_000},
}


def param_at(name: str, as_of: date) -> int:
    return [v for start, v in sorted(PARAMETERS[name].items()) if start <= as_of][-1]


# ---------------------------------------------------------------- the demo policies, by hand


@dataclass(frozen=True)
class HandPolicy:
    """A policy written by hand: conditions in file order and a benefit giving (amount, known)."""

    id: str
    conditions: dict[str, Callable[[Facts], Tri]]
    benefit: Callable[[Facts], tuple[np.ndarray, np.ndarray]] | None


ge, le, gt, lt = operator.ge, operator.le, operator.gt, operator.lt


def _known(f: Facts, *names: str) -> np.ndarray:
    return functools.reduce(operator.and_, (f.known(n) for n in names))


def _constant(f: Facts, yuan: int) -> tuple[np.ndarray, np.ndarray]:
    return f.pay(np.full(f.n, f.money(yuan)), 1, None), np.ones(f.n, dtype=bool)


def _manufacturing(f: Facts) -> Tri:
    return category(f, "industry_code", lambda s: s.startswith("C"))


def _in_xiamen(f: Facts) -> Tri:
    return category(f, "region_code", lambda s: s.startswith("3502"))


def _years_under(f: Facts, name: str, years: int) -> Tri:
    """years_since(date) < years, i.e. (y, m, d) > (as_of.year - years, as_of.month, as_of.day)."""
    a = f.as_of  # type: ignore[attr-defined]
    cutoff = (
        date(a.year - years, a.month, a.day)
        if (a.month, a.day) != (2, 29)
        else date(a.year - years, 3, 1)
    )
    op = gt if (a.month, a.day) != (2, 29) else ge
    return compare(f, name, op, f.day(cutoff))


def _within_last(f: Facts, name: str, **delta: int) -> Tri:
    return compare(f, name, ge, f.day(f.as_of - relativedelta(**delta)))  # type: ignore[attr-defined]


def _growth_ratio_at_least(f: Facts, percent: int) -> Tri:
    """(revenue - revenue_prev) / revenue_prev >= percent%, exactly by cross-multiplying; /0 is unknown."""
    rev, prev = f.value("revenue"), f.value("revenue_prev")
    lhs, rhs = (rev - prev) * 100, prev * percent
    result = np.where(prev > 0, lhs >= rhs, lhs <= rhs)
    known = _known(f, "revenue", "revenue_prev") & (prev != 0)
    return known & result, known & ~result


def _scale_is(f: Facts, *names: str) -> Tri:
    return category(f, "scale", lambda s: s in names)


HAND_POLICIES: tuple[HandPolicy, ...] = (
    HandPolicy(
        "above-scale-growth-award",
        {
            "above_scale": lambda f: all_of(flag(f, "above_scale"), _manufacturing(f)),
            "revenue": lambda f: compare(f, "revenue", ge, f.money(20_000_000)),
            "growth": lambda f: (
                (k := _known(f, "revenue", "revenue_prev"))
                & (r := f.value("revenue") * 100 >= f.value("revenue_prev") * 115),
                k & ~r,
            ),
        },
        lambda f: (
            f.pay(f.value("revenue") - f.value("revenue_prev"), 100, 1_000_000),
            _known(f, "revenue", "revenue_prev"),
        ),
    ),
    HandPolicy(
        "export-award",
        {
            "export": lambda f: compare(f, "export_value", ge, f.money(5_000_000)),
            "tax_credit": lambda f: category(f, "tax_credit_rating", lambda s: s in ("A", "B")),
        },
        lambda f: (f.pay(f.value("export_value") * 5, 1000, 500_000), f.known("export_value")),
    ),
    HandPolicy(
        "first-above-scale-award",
        {
            "above_scale": lambda f: flag(f, "above_scale"),
            "manufacturing": _manufacturing,
            "first_time": lambda f: _within_last(f, "above_scale_since", months=12),
        },
        lambda f: _constant(f, f.param("first_above_scale_award")),
    ),
    HandPolicy(
        "graduate-hiring-subsidy",
        {
            "small_or_micro": lambda f: _scale_is(f, "小型", "微型"),
            "hired": lambda f: compare(f, "new_graduate_hires", ge, 1),
            "no_arrears": lambda f: negate(flag(f, "social_insurance_arrears")),
        },
        lambda f: (
            f.pay(f.value("new_graduate_hires") * f.money(1000), 1, 100_000),
            f.known("new_graduate_hires"),
        ),
    ),
    HandPolicy(
        "hightech-first-award",
        {
            "hightech": lambda f: flag(f, "high_tech"),
            "recently_certified": lambda f: _within_last(f, "high_tech_certified_on", years=1),
            "in_xiamen": _in_xiamen,
            "no_violation": lambda f: negate(flag(f, "serious_violation")),
        },
        lambda f: _constant(f, f.param("hightech_first_award")),
    ),
    HandPolicy(
        "hightech-growth-award",
        {
            "hightech": lambda f: flag(f, "high_tech"),
            "revenue_band": lambda f: all_of(
                compare(f, "revenue", ge, f.money(50_000_000)),
                compare(f, "revenue", le, f.money(5_000_000_000)),
            ),
            "growth": lambda f: _growth_ratio_at_least(f, 20),
        },
        lambda f: (
            f.pay((f.value("revenue") - f.value("revenue_prev")) * 5, 1000, 1_000_000),
            _known(f, "revenue", "revenue_prev"),
        ),
    ),
    HandPolicy(
        "invention-patent-grant",
        {
            "patents": lambda f: compare(f, "invention_patents", ge, 1),
            "in_xiamen": _in_xiamen,
        },
        lambda f: (
            f.pay(f.value("invention_patents") * f.money(5000), 1, 100_000),
            f.known("invention_patents"),
        ),
    ),
    HandPolicy(
        "jimei-manufacturing-upgrade",
        {
            "in_jimei": lambda f: category(f, "region_code", lambda s: s.startswith("350211")),
            "industry": lambda f: category(
                f, "industry_code", lambda s: s in ("C34", "C35", "C38", "C39", "C40")
            ),
            "above_scale": lambda f: flag(f, "above_scale"),
            "rd_ratio": lambda f: compare(f, "rd_ratio", ge, f.ratio(2)),
        },
        lambda f: _constant(f, 200_000),
    ),
    HandPolicy(
        "job-stabilization-refund",
        {
            "insured": lambda f: compare(f, "insured_employees", ge, 1),
            "no_arrears": lambda f: negate(flag(f, "social_insurance_arrears")),
            "no_violation": lambda f: negate(flag(f, "serious_violation")),
        },
        lambda f: (
            f.pay(
                f.value("unemployment_insurance_paid") * np.where(_scale_is(f, "大型")[0], 30, 60),
                100,
                None,
            ),
            _known(f, "unemployment_insurance_paid", "scale"),
        ),
    ),
    HandPolicy(
        "rd-expense-subsidy",
        {
            "rd_expense": lambda f: compare(
                f, "rd_expense", ge, f.money(f.param("rd_expense_threshold"))
            ),
            "rd_ratio": lambda f: compare(f, "rd_ratio", ge, f.ratio(3)),
            "tax_credit": lambda f: category(
                f, "tax_credit_rating", lambda s: s in ("A", "B", "M")
            ),
            "no_arrears": lambda f: negate(flag(f, "tax_arrears")),
        },
        lambda f: (f.pay(f.value("rd_expense") * 10, 100, 2_000_000), f.known("rd_expense")),
    ),
    HandPolicy(
        "specialized-sme-award",
        {
            "level": lambda f: category(f, "specialized_level", lambda s: s in ("省级", "国家级")),
            "no_violation": lambda f: negate(flag(f, "serious_violation")),
        },
        lambda f: (
            f.pay(
                np.where(
                    f.category("specialized_level", lambda s: s == "国家级")[0],
                    f.money(1_000_000),
                    f.money(300_000),
                ),
                1,
                None,
            ),
            f.known("specialized_level"),
        ),
    ),
    HandPolicy(
        "startup-employment-subsidy",
        {
            "young": lambda f: _years_under(f, "established_on", 3),
            "staff": lambda f: compare(f, "employees", ge, 3),
            "small": lambda f: any_of(_scale_is(f, "小型"), _scale_is(f, "微型")),
        },
        lambda f: (f.pay(f.value("employees") * f.money(2000), 1, 30_000), f.known("employees")),
    ),
    HandPolicy(
        "tax-contribution-award",
        {
            "tax_paid": lambda f: compare(f, "tax_paid", ge, f.money(10_000_000)),
            "credit_a": lambda f: category(f, "tax_credit_rating", lambda s: s == "A"),
            "no_arrears": lambda f: negate(flag(f, "tax_arrears")),
        },
        lambda f: (f.pay(f.value("tax_paid"), 100, 2_000_000), f.known("tax_paid")),
    ),
    HandPolicy(
        "tech-sme-rd-subsidy",
        {
            "tech_sme": lambda f: flag(f, "tech_sme"),
            "sme": lambda f: _scale_is(f, "中型", "小型", "微型"),
            "has_rd": lambda f: compare(f, "rd_expense", gt, f.money(0)),
        },
        lambda f: (f.pay(f.value("rd_expense") * 5, 100, 500_000), f.known("rd_expense")),
    ),
)

# ---------------------------------------------------------------- NumPy facts (exact)


class NumpyFacts:
    """Facts as exact integers: money in 分 (int64), ratios in millionths, dates as days since 1970."""

    def __init__(self, columns: Mapping[str, np.ndarray], known: Mapping[str, np.ndarray],
                 dictionaries: Mapping[str, list[str]], n: int, as_of: date) -> None:  # fmt: skip
        self.columns, self.knowns, self.dictionaries, self.n, self.as_of = (
            columns,
            known,
            dictionaries,
            n,
            as_of,
        )

    @classmethod
    def from_arrow(cls, table: pa.Table, names: Iterable[str], as_of: date) -> NumpyFacts:
        columns: dict[str, np.ndarray] = {}
        known: dict[str, np.ndarray] = {}
        dictionaries: dict[str, list[str]] = {}
        for name in names:
            col = table[name].combine_chunks()
            known[name] = col.is_valid().to_numpy(zero_copy_only=False)
            if pa.types.is_decimal(col.type):
                columns[name] = _unscaled(col)
            elif pa.types.is_string(col.type):
                encoded = pc.dictionary_encode(col)
                columns[name] = encoded.indices.fill_null(0).to_numpy().astype(np.int32)
                dictionaries[name] = encoded.dictionary.to_pylist()
            elif pa.types.is_date(col.type):
                columns[name] = col.cast(pa.int32()).fill_null(0).to_numpy()
            else:
                columns[name] = col.fill_null(
                    False if pa.types.is_boolean(col.type) else 0
                ).to_numpy(zero_copy_only=False)
        return cls(columns, known, dictionaries, len(table), as_of)

    def value(self, name: str) -> np.ndarray:
        return self.columns[name]

    def known(self, name: str) -> np.ndarray:
        return self.knowns[name]

    def category(self, name: str, accept: Callable[[str], bool]) -> tuple[np.ndarray, np.ndarray]:
        lookup = np.array([accept(s) for s in self.dictionaries[name]] or [False], dtype=bool)
        return lookup[self.columns[name]], self.knowns[name]

    def money(self, yuan: int | str) -> int:
        return int(Decimal(yuan) * 100)

    def ratio(self, percent: int | str) -> int:
        return int(Decimal(percent) * 10_000)

    def day(self, d: date) -> int:
        return (d - EPOCH).days

    def param(self, name: str) -> int:
        return param_at(name, self.as_of)

    def pay(self, numerator: np.ndarray, denominator: int, cap_yuan: int | None) -> np.ndarray:
        """numerator/denominator 分, capped, never negative, rounded half up to the 分 exactly."""
        upper = None if cap_yuan is None else self.money(cap_yuan) * denominator
        clipped = np.clip(numerator, 0, upper)
        return (2 * clipped + denominator) // (2 * denominator)

    def total(self, amounts: np.ndarray) -> Decimal:
        return Decimal(int(amounts.sum(dtype=np.int64))) / 100


def _unscaled(col: pa.Array) -> np.ndarray:
    """The unscaled integers of a decimal128 column (low 64 bits; our values fit), nulls as 0."""
    words = np.frombuffer(col.buffers()[1], dtype=np.int64)[
        2 * col.offset : 2 * (col.offset + len(col))
    ]
    values = words[::2].copy()
    values[~col.is_valid().to_numpy(zero_copy_only=False)] = 0
    return values


# ---------------------------------------------------------------- evaluation shared by NumPy and OpenFisca


@dataclass
class PolicyArrays:
    """One policy's outcome per entity: status 0 eligible / 1 needs information / 2 ineligible."""

    status: np.ndarray
    n_failed: np.ndarray
    failed_mask: np.ndarray
    unknown_mask: np.ndarray
    amount: np.ndarray


def tri_code(t: Tri) -> np.ndarray:
    """A condition outcome as OpenFisca can hold it: 1 met, 0 failed, 2 unknown."""
    return np.where(t[0], 1, np.where(t[1], 0, 2)).astype(np.int32)


def combine(
    outcomes: Sequence[Tri], amount: tuple[np.ndarray, np.ndarray] | None, n: int
) -> PolicyArrays:
    """Status, failure count, masks and paid amount from per-condition outcomes."""
    n_failed = np.zeros(n, dtype=np.int8)
    failed_mask = np.zeros(n, dtype=np.int64)
    unknown_mask = np.zeros(n, dtype=np.int64)
    for i, (met, failed) in enumerate(outcomes):
        n_failed += failed
        failed_mask |= failed.astype(np.int64) << i
        unknown_mask |= (~(met | failed)).astype(np.int64) << i
    paid = None
    if amount is not None:
        paid, known = amount
        unknown_mask |= ((n_failed == 0) & ~known).astype(np.int64) << len(outcomes)
    status = np.where(n_failed > 0, 2, np.where(unknown_mask != 0, 1, 0)).astype(np.int8)
    if paid is None:
        paid = np.zeros(n, dtype=np.int64)
    return PolicyArrays(status, n_failed, failed_mask, unknown_mask, np.where(status == 0, paid, 0))


def count(arrays: PolicyArrays, total: Callable[[np.ndarray], Decimal]) -> Counts:
    by_status = np.bincount(arrays.status, minlength=3)
    return Counts(
        eligible=int(by_status[0]),
        needs_information=int(by_status[1]),
        ineligible=int(by_status[2]),
        near_miss=int(np.count_nonzero(arrays.n_failed == 1)),
        total_amount=total(arrays.amount),
    )


def run_numpy(f: NumpyFacts, policies: Sequence[HandPolicy]) -> dict[str, Counts]:
    counts: dict[str, Counts] = {}
    for p in policies:
        outcomes = [c(f) for c in p.conditions.values()]
        amount = p.benefit(f) if p.benefit else None
        counts[p.id] = count(combine(outcomes, amount, f.n), f.total)
    return counts


# ---------------------------------------------------------------- OpenFisca


class OpenFiscaModel:
    """A TaxBenefitSystem with one `enterprise` entity, built from the hand-written policies."""

    def __init__(self, policies: Sequence[HandPolicy], facts: NumpyFacts) -> None:
        from openfisca_core.entities import build_entity
        from openfisca_core.indexed_enums import Enum
        from openfisca_core.parameters import ParameterNode
        from openfisca_core.periods import DateUnit
        from openfisca_core.taxbenefitsystems import TaxBenefitSystem
        from openfisca_core.variables import Variable

        self.policies = policies
        entity = build_entity(key="enterprise", plural="enterprises", label="企业", is_person=True)
        self.tbs = TaxBenefitSystem([entity])
        self.tbs.parameters = ParameterNode(
            "",
            data={
                name: {"values": {str(start): {"value": v} for start, v in versions.items()}}
                for name, versions in PARAMETERS.items()
            },
        )
        self.enums: dict[str, type] = {}

        def add(name: str, value_type: type, formula: Callable | None = None, **extra: Any) -> None:
            body: dict[str, Any] = {
                "value_type": value_type,
                "entity": entity,
                "definition_period": DateUnit.DAY,
            }
            body |= extra
            if formula is not None:
                body["formula"] = formula
            self.tbs.add_variable(type(name, (Variable,), body))

        for name, values in facts.columns.items():
            if name in facts.dictionaries:
                members = [(f"v{i}", s) for i, s in enumerate(facts.dictionaries[name] or [""])]
                enum = Enum(name, members)  # type: ignore[call-overload]
                self.enums[name] = enum
                add(name, Enum, possible_values=enum, default_value=next(iter(enum)))
            elif values.dtype == np.bool_:
                add(name, bool)
            elif name in ("established_on", "high_tech_certified_on", "above_scale_since"):
                add(name, date)
            elif name in MONEY_OR_RATIO:
                add(name, float)
            else:
                add(name, int)
            add(f"{name}__known", bool)

        for p in policies:
            pid = p.id.replace("-", "_")
            cond_vars = [f"{pid}__{cid}" for cid in p.conditions]
            for var, cond in zip(cond_vars, p.conditions.values(), strict=True):
                add(var, int, self._condition_formula(cond))
            if p.benefit is not None:
                add(f"{pid}__benefit", float, self._benefit_formula(p.benefit, 0))
                add(f"{pid}__benefit_known", bool, self._benefit_formula(p.benefit, 1))
            for name, value_type, formula in _policy_formulas(
                pid, cond_vars, p.benefit is not None
            ):
                add(name, value_type, formula)

    def _facts(self, e: Any, period: Any, parameters: Any) -> OpenFiscaFacts:
        return OpenFiscaFacts(e, period, parameters, self.enums)

    def _condition_formula(self, cond: Callable[[Facts], Tri]) -> Callable:
        def formula(e: Any, period: Any, parameters: Any) -> np.ndarray:
            return tri_code(cond(self._facts(e, period, parameters)))

        return formula

    def _benefit_formula(self, benefit: Callable, part: int) -> Callable:
        def formula(e: Any, period: Any, parameters: Any) -> np.ndarray:
            return benefit(self._facts(e, period, parameters))[part]

        return formula


def _policy_formulas(
    pid: str, cond_vars: list[str], has_benefit: bool
) -> list[tuple[str, type, Callable]]:
    """One OpenFisca variable per derived quantity of a policy, each reading the condition variables."""

    def failed(e: Any, period: Any) -> list[np.ndarray]:
        return [(e(v, period) == 0).astype(np.int32) for v in cond_vars]

    def n_failed(e: Any, period: Any) -> np.ndarray:
        return sum(failed(e, period))

    def failed_mask(e: Any, period: Any) -> np.ndarray:
        return sum(fl << i for i, fl in enumerate(failed(e, period)))

    def unknown_mask(e: Any, period: Any) -> np.ndarray:
        mask = sum((e(v, period) == 2).astype(np.int32) << i for i, v in enumerate(cond_vars))
        if has_benefit:
            amount_unknown = (e(f"{pid}__n_failed", period) == 0) & ~e(
                f"{pid}__benefit_known", period
            )
            mask = mask | (amount_unknown.astype(np.int32) << len(cond_vars))
        return mask

    def status(e: Any, period: Any) -> np.ndarray:
        nf, um = e(f"{pid}__n_failed", period), e(f"{pid}__unknown_mask", period)
        return np.where(nf > 0, 2, np.where(um != 0, 1, 0))

    def amount(e: Any, period: Any) -> np.ndarray:
        paid = e(f"{pid}__benefit", period) if has_benefit else 0
        return np.where(e(f"{pid}__status", period) == 0, paid, 0)

    return [
        (f"{pid}__n_failed", int, n_failed),
        (f"{pid}__failed_mask", int, failed_mask),
        (f"{pid}__unknown_mask", int, unknown_mask),
        (f"{pid}__status", int, status),
        (f"{pid}__amount", float, amount),
    ]


MONEY_OR_RATIO = {
    "revenue", "revenue_prev", "rd_expense", "rd_ratio", "unemployment_insurance_paid", "tax_paid", "export_value",
}  # fmt: skip


class OpenFiscaFacts:
    """Facts read through OpenFisca: float32 元 and ratios, int32 counts, datetime64 dates, Enums."""

    def __init__(self, e: Any, period: Any, parameters: Any, enums: Mapping[str, type]) -> None:
        self.e, self.period, self.parameters, self.enums = e, period, parameters, enums
        self.n = e.count
        start = period.start.date
        self.as_of = date(start.year, start.month, start.day)

    def value(self, name: str) -> np.ndarray:
        return np.asarray(self.e(name, self.period))

    def known(self, name: str) -> np.ndarray:
        return self.e(f"{name}__known", self.period)

    def category(self, name: str, accept: Callable[[str], bool]) -> tuple[np.ndarray, np.ndarray]:
        lookup = np.array([accept(m.value) for m in self.enums[name]], dtype=bool)
        return lookup[np.asarray(self.e(name, self.period)).view(np.ndarray)], self.known(name)

    def money(self, yuan: int | str) -> float:
        return float(yuan)

    def ratio(self, percent: int | str) -> float:
        return float(percent) / 100

    def day(self, d: date) -> np.datetime64:
        return np.datetime64(d)

    def param(self, name: str) -> float:
        return getattr(self.parameters(self.period), name)

    def pay(self, numerator: np.ndarray, denominator: int, cap_yuan: int | None) -> np.ndarray:
        raw = np.asarray(numerator, dtype=np.float32) / np.float32(denominator)
        return np.round(np.clip(raw, 0, cap_yuan), 2)


def openfisca_inputs(facts: NumpyFacts) -> dict[str, np.ndarray]:
    """The facts converted to OpenFisca's value types (this is data preparation, timed apart)."""
    out: dict[str, np.ndarray] = {}
    for name, values in facts.columns.items():
        if name in facts.dictionaries:
            out[name] = values.astype(np.int16)
        elif name in ("established_on", "high_tech_certified_on", "above_scale_since"):
            out[name] = values.astype("datetime64[D]")
        elif name == "rd_ratio":
            out[name] = (values / 1_000_000).astype(np.float32)
        elif name in MONEY_OR_RATIO:
            out[name] = (values / 100).astype(np.float32)
        elif values.dtype == np.bool_:
            out[name] = values
        else:
            out[name] = values.astype(np.int32)
        out[f"{name}__known"] = facts.knowns[name]
    return out


def run_openfisca(model: OpenFiscaModel, inputs: Mapping[str, np.ndarray], n: int, as_of: date) -> tuple[dict[str, Counts], Any]:  # fmt: skip
    from openfisca_core.indexed_enums import EnumArray
    from openfisca_core.simulations import SimulationBuilder

    sim = SimulationBuilder().build_default_simulation(model.tbs, count=n)
    period = str(as_of)
    for name, values in inputs.items():
        enum = model.enums.get(name)
        sim.set_input(name, period, EnumArray(values, enum) if enum is not None else values)
    counts: dict[str, Counts] = {}
    for p in model.policies:
        pid = p.id.replace("-", "_")
        arrays = PolicyArrays(
            status=sim.calculate(f"{pid}__status", period),
            n_failed=sim.calculate(f"{pid}__n_failed", period),
            failed_mask=sim.calculate(f"{pid}__failed_mask", period),
            unknown_mask=sim.calculate(f"{pid}__unknown_mask", period),
            amount=sim.calculate(f"{pid}__amount", period),
        )
        counts[p.id] = count(arrays, _float_total)
    return counts, sim


def _float_total(amounts: np.ndarray) -> Decimal:
    return Decimal(repr(float(amounts.sum(dtype=np.float64)))).quantize(CENT, ROUND_HALF_UP)


# ---------------------------------------------------------------- engine


def compile_engine(policies: Sequence[Policy], table: ibis.Table, as_of: date) -> str:
    """The SQL of per-policy counts (compiled once; timed apart from running it)."""
    return str(ibis.to_sql(policy_counts(policies, table, as_of), dialect="duckdb"))


def run_engine(con: Any, sql: str) -> dict[str, Counts]:
    """Per-policy counts: every condition's outcome, aggregated where computed."""
    result = con.raw_sql(sql).arrow()
    if not isinstance(result, pa.Table):
        result = result.read_all()
    return {
        row["policy_id"]: Counts(
            int(row["eligible"] or 0),
            int(row["needs_information"] or 0),
            int(row["ineligible"] or 0),
            int(row["near_miss"] or 0),
            Decimal(row["total_amount"] or 0).quantize(CENT),
        )
        for row in result.to_pylist()
    }


def sample_agreement(policies: Sequence[Policy], sample: pa.Table) -> list[str]:
    """The engine against the Python evaluator on a sample of entities, every policy (the 200 too)."""
    from zhixiang.catalog import load_catalog
    from zhixiang.matching import facts_from_row

    con = connect("duckdb://")
    engine = run_engine(
        con, compile_engine(policies, con.create_table("enterprise", sample), AS_OF)
    )
    catalog = load_catalog("enterprise")
    facts = [facts_from_row(catalog, row) for row in sample.to_pylist()]
    differ = []
    for p in policies:
        verdicts = [evaluate_policy(p, f, AS_OF) for f in facts]
        python = Counts(
            sum(v.status == "eligible" for v in verdicts),
            sum(v.status == "needs_information" for v in verdicts),
            sum(v.status == "ineligible" for v in verdicts),
            sum(len(v.failed) == 1 for v in verdicts),
            sum((v.amount for v in verdicts if v.amount is not None), Decimal(0)).quantize(CENT),
        )
        if engine[p.id] != python:
            differ.append(f"  {p.id}: engine {engine[p.id]} Python {python}")
    return differ


def replicate(policies: Sequence[Policy], total: int) -> list[Policy]:
    """`total` policies: the demo ones again under new ids, with thresholds in conditions scaled 0.8–1.36×."""
    files = {p.id: p.path for p in policies}
    quantity = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(亿元|万元|元|%|人|件)")
    out: list[Policy] = []
    k = 0
    while len(out) < total:
        factor = Decimal(80 + 4 * (k % 15)) / 100
        for pid, path in files.items():
            if len(out) >= total:
                break
            scale = functools.partial(_scaled, factor=factor)
            lines = []
            for line in path.read_text("utf-8").split("\n"):
                if line.lstrip().startswith("when:"):
                    line = quantity.sub(scale, line)
                elif line.startswith("id:"):
                    line = f"id: {pid}-v{k:03d}"
                lines.append(line)
            out.append(parse_policy("\n".join(lines).split("\ntests:")[0] + "\n", path))
        k += 1
    return out


def _scaled(m: re.Match[str], factor: Decimal) -> str:
    return f"{(Decimal(m[1]) * factor).normalize():f}{m[2]}"


# ---------------------------------------------------------------- comparison


REASONS = {
    "NumPy": "unexpected: engine and hand-written NumPy are both exact (decimal vs int64 分)",
    "OpenFisca": (
        "OpenFisca `float` variables are float32 (~7 significant digits): money and ratios near a threshold"
        " can fall on the other side, and amounts are computed and rounded in float32"
    ),
}


def compare_counts(name: str, reference: dict[str, Counts], other: dict[str, Counts]) -> list[str]:
    lines = []
    for pid, ref in reference.items():
        got = other.get(pid)
        if got is None:
            lines.append(f"  {pid}: missing from {name}")
            continue
        for fname in COUNT_FIELDS:
            a, b = getattr(ref, fname), getattr(got, fname)
            if a != b:
                lines.append(f"  {pid:28s} {fname:18s} engine {a}  {name} {b}  (Δ {b - a})")
    return lines


def diagnose(f: NumpyFacts, sim: Any, policies: Sequence[HandPolicy], pids: set[str]) -> list[str]:
    """For policies whose counts differ, which conditions or amounts OpenFisca decided otherwise, and how often."""
    lines = []
    period = str(f.as_of)
    for p in policies:
        if p.id not in pids:
            continue
        pid = p.id.replace("-", "_")
        for cid, cond in p.conditions.items():
            ours = tri_code(cond(f))
            theirs = sim.calculate(f"{pid}__{cid}", period)
            differ = np.flatnonzero(ours != theirs)
            if len(differ):
                i = differ[0]
                lines.append(
                    f"  {p.id}.{cid}: {len(differ):,} entities differ"
                    f" (e.g. row {i}: exact {['failed', 'met', 'unknown'][ours[i]]},"
                    f" OpenFisca {['failed', 'met', 'unknown'][theirs[i]]})"
                )
        if p.benefit is not None:
            exact = combine([c(f) for c in p.conditions.values()], p.benefit(f), f.n)
            theirs = sim.calculate(f"{pid}__amount", period)
            off = np.abs(exact.amount / 100 - theirs.astype(np.float64)) >= 0.005
            if off.any():
                lines.append(
                    f"  {p.id}.amount: {int(off.sum()):,} eligible entities' amounts differ by ≥ 0.01 元 (float32)"
                )
    return lines


# ---------------------------------------------------------------- main


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


@dataclass
class Measured:
    wall: float  # median
    cpu: float  # median, all threads of this process
    walls: list[float]
    load: float


def measured(fn: Callable[[], Any], repeats: int) -> tuple[Any, Measured]:
    """One warm-up, then the median of `repeats` runs, with CPU time and the load average."""
    out = fn()
    walls, cpus = [], []
    for _ in range(repeats):
        c, t = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return out, Measured(
        statistics.median(walls), statistics.median(cpus), walls, os.getloadavg()[0]
    )


def fmt(m: Measured) -> str:
    spread = "/".join(f"{w:.2f}" for w in m.walls)
    return f"wall {m.wall:7.2f} s  CPU {m.cpu:7.2f} s  (runs {spread}; load {m.load:.1f})"


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds / 1e6:8.2f} M evaluations/s"


def bench_size(
    n: int, policies: Sequence[Policy], args: argparse.Namespace, *, big: bool
) -> dict[str, Any]:
    hand = [h for h in HAND_POLICIES if h.id in {p.id for p in policies}]
    R = args.repeats
    say(
        f"\n=== {n:,} enterprises × {len(policies)} policies = {n * len(policies):,} entity-policy evaluations; {load()}"
    )
    table, t = timed(lambda: generate_enterprises(n, seed=args.seed, reference=AS_OF))
    say(f"generate: {t:.1f} s ({table.nbytes / 1024**3:.2f} GiB arrow)")
    sample = table.take(np.random.default_rng(2).integers(0, n, min(n, args.sample)))

    used = sorted({*(c.name for c in table.schema)} - {"credit_code", "name", "registered_capital"})
    facts, t_prep = timed(lambda: NumpyFacts.from_arrow(table, used, AS_OF))
    say(
        f"NumPy data preparation (arrow → int64 分 / masks / dictionary codes): {t_prep:.1f} s, not counted"
    )

    con = connect("duckdb://")
    _, t = timed(lambda: con.create_table("enterprise", table))
    table = None
    gc.collect()
    et = con.table("enterprise")
    evals = n * len(policies)
    results: dict[str, Any] = {"n": n}

    sql, compile_m = measured(lambda: compile_engine(policies, et, AS_OF), R)
    say(
        f"engine compile (Ibis build + SQL, {len(sql) / 1024:.0f} KiB; cached per policy version in `zhixiang match`): {fmt(compile_m)}"
    )
    by_threads = {}
    for threads in (1, args.threads):
        con.raw_sql(f"SET threads = {threads}")
        engine_counts, m = measured(lambda: run_engine(con, sql), R)
        by_threads[threads] = m
        say(
            f"engine execution, DuckDB {threads} thread(s):                  {fmt(m)}  {rate(evals, m.wall)}"
        )
    eng1, engN = by_threads[1], by_threads[args.threads]
    numpy_counts, numpy_m = measured(lambda: run_numpy(facts, hand), R)
    say(
        f"hand-written NumPy (exact, three-valued), 1 thread:          {fmt(numpy_m)}  {rate(evals, numpy_m.wall)}"
    )

    model, t_model = timed(lambda: OpenFiscaModel(hand, facts))
    inputs, t_inputs = timed(lambda: openfisca_inputs(facts))
    (of_counts, sim), of_m = measured(lambda: run_openfisca(model, inputs, n, AS_OF), R)
    say(
        f"OpenFisca-Core {metadata.version('openfisca-core')} (simulation + inputs + calculate), 1 thread: {fmt(of_m)}"
        f"   [TaxBenefitSystem {t_model:.2f} s, type conversion {t_inputs:.1f} s, not counted]"
    )
    say(f"ratios, equal threads (1 each): engine is {of_m.wall / eng1.wall:.2f}× OpenFisca's speed (target ≥ 4×),"
        f" takes {eng1.wall / numpy_m.wall:.2f}× NumPy's time (target ≤ 2×); with compile: {of_m.wall / (eng1.wall + compile_m.wall):.2f}× / {(eng1.wall + compile_m.wall) / numpy_m.wall:.2f}×")  # fmt: skip
    say(f"ratios, DuckDB on {args.threads} threads vs 1-thread NumPy/OpenFisca (unequal, stated):"
        f" {of_m.wall / engN.wall:.2f}× OpenFisca's speed, {engN.wall / numpy_m.wall:.2f}× NumPy's time")  # fmt: skip

    say("agreement (engine is the reference):")
    diff_numpy = compare_counts("NumPy", engine_counts, numpy_counts)
    diff_of = compare_counts("OpenFisca", engine_counts, of_counts)
    for name, diff in (("NumPy", diff_numpy), ("OpenFisca", diff_of)):
        if not diff:
            say(f"  {name}: all {len(policies)} policies agree on every count and the total amount")
        else:
            say(f"  {name}: {len(diff)} differing figures — reason: {REASONS[name]}")
            for line in diff:
                say(line)
    if diff_of:
        pids = {line.split()[0] for line in diff_of}
        say("  OpenFisca vs exact NumPy, per condition/amount, where counts differ:")
        for line in diagnose(facts, sim, hand, pids):
            say(line)
    say("per-policy counts (engine):")
    say(
        f"  {'policy':30s} {'eligible':>9s} {'needs_info':>10s} {'ineligible':>10s} {'near_miss':>9s} {'total_amount':>18s}"
    )
    for pid, c in sorted(engine_counts.items()):
        say(
            f"  {pid:30s} {c.eligible:9d} {c.needs_information:10d} {c.ineligible:10d} {c.near_miss:9d} {c.total_amount:18,}"
        )
    sim = inputs = model = facts = None
    gc.collect()
    results |= {
        "engine1": eng1,
        "engineN": engN,
        "compile": compile_m,
        "numpy": numpy_m,
        "openfisca": of_m,
    }

    if big:
        many = replicate(policies, args.policies)
        say(
            f"engine, {n:,} enterprises × {len(many)} policies ({n * len(many):,} evaluations) to per-policy counts …"
        )
        big_sql, big_compile = measured(lambda: compile_engine(many, et, AS_OF), 1)
        say(f"  compile ({len(big_sql) / 1024**2:.1f} MiB of SQL): {fmt(big_compile)}")
        counts, big_m = measured(lambda: run_engine(con, big_sql), R)
        assert len(counts) == len(many)
        say(
            f"  execution on {args.threads} threads: {fmt(big_m)}  {rate(n * len(many), big_m.wall)}"
        )
        differ = sample_agreement(many, sample)
        say(f"  agreement with the Python evaluator on {sample.num_rows} sampled entities × {len(many)} policies:"
            f" {'all agree' if not differ else f'{len(differ)} policies differ'}")  # fmt: skip
        for line in differ:
            say(line)
        results |= {"big": big_m, "big_compile": big_compile, "big_agree": not differ}
    else:
        differ = sample_agreement(policies, sample)
        say(f"agreement with the Python evaluator on {sample.num_rows} sampled entities: {differ or 'all agree'}")  # fmt: skip
    say(f"peak RSS so far: {peak_rss_gib():.1f} GiB; {load()}")
    con.disconnect()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="100000,1000000,10000000", help="comma-separated entity counts"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 20,000 and 100,000 enterprises"
    )
    parser.add_argument(
        "--policies", type=int, default=200, help="policies for the large run (default 200)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs after the warm-up (median)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 2,
        help="DuckDB threads for the second figure",
    )
    parser.add_argument(
        "--sample", type=int, default=300, help="entities checked against the Python evaluator"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sizes = (
        [20_000, 100_000]
        if args.quick
        else [int(s.replace("_", "")) for s in args.sizes.split(",")]
    )

    policies = [p for p in load_policies([demo_policies_dir()]).policies if p.in_force(AS_OF)]
    say(
        f"rules benchmark — as of {AS_OF}, {len(policies)} demo policies, sizes {sizes}, median of {args.repeats} after a warm-up"
    )
    say(
        f"python {sys.version.split()[0]}, duckdb {duckdb.__version__}, ibis {ibis.__version__},"
        f" numpy {np.__version__}, openfisca-core {metadata.version('openfisca-core')}; {os.cpu_count()} cores; {load()}"
    )
    summary = [bench_size(n, policies, args, big=n == max(sizes)) for n in sizes]

    say("\n=== summary (medians; engine at 1 thread for the equal-thread ratios)")
    for r in summary:
        e1, of, nu = r["engine1"].wall, r["openfisca"].wall, r["numpy"].wall
        say(
            f"{r['n']:>11,}: engine {e1:.2f} s [CPU {r['engine1'].cpu:.2f}] (+ compile {r['compile'].wall:.2f} s),"
            f" {r['engineN'].wall:.2f} s on {args.threads} threads; NumPy {nu:.2f} s; OpenFisca {of:.2f} s"
            f" → engine/OpenFisca speed {of / e1:.2f}× (≥ 4× {'met' if of >= 4 * e1 else 'NOT met'}),"
            f" engine/NumPy time {e1 / nu:.2f}× (≤ 2× {'met' if e1 <= 2 * nu else 'NOT met'}); load {r['engine1'].load:.1f}"
        )  # fmt: skip
        if "big" in r:
            say(
                f"{r['n']:>11,} × {args.policies} policies: {r['big'].wall:.1f} s execution + {r['big_compile'].wall:.1f} s compile"
                f" (< 60 s {'met' if r['big'].wall < 60 else 'NOT met'}); agreement with Python on a sample: {r['big_agree']}"
            )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
