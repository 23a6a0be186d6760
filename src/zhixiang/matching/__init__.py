"""Outcomes of the rules: batch matching over all entities, and the one-entity policy calculator.

Batch: `run_matching(source, policies, as_of, results_dir=…)` evaluates every policy in force,
writes the rows worth keeping as Parquet and publishes the run atomically; `open_results()` reads
the current run (counts, sorted pages of eligible / needs-information / near-miss / changed rows,
condition ids decoded from the stored bit masks). Calculator: `Calculator` answers for one entity
from facts looked up by key with a prepared statement.
"""

from zhixiang.matching._batch import MatchFailed, run_matching
from zhixiang.matching._calculator import (
    Calculator,
    EntityLookup,
    EntityReport,
    facts_from_row,
    gap_dict,
)
from zhixiang.matching._compare import (
    CHANGES,
    INDUSTRY_SECTIONS,
    ChangeGroup,
    PolicyComparison,
    compare_policies,
    district_labels,
)
from zhixiang.matching._engine import connect, data_problems, evaluations, policy_counts
from zhixiang.matching._results import KINDS, MatchRow, Results, open_results
from zhixiang.matching._store import MatchRun, PolicyCounts, list_runs, load_run

__all__ = [
    "CHANGES",
    "INDUSTRY_SECTIONS",
    "KINDS",
    "Calculator",
    "ChangeGroup",
    "EntityLookup",
    "EntityReport",
    "MatchFailed",
    "MatchRow",
    "MatchRun",
    "PolicyComparison",
    "PolicyCounts",
    "Results",
    "compare_policies",
    "connect",
    "data_problems",
    "district_labels",
    "evaluations",
    "facts_from_row",
    "gap_dict",
    "list_runs",
    "load_run",
    "open_results",
    "policy_counts",
    "run_matching",
]
