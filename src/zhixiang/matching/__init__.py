"""Outcomes of the rules: batch matching over all entities, and the one-entity policy calculator.

Batch: `run_matching(source, policies, as_of, results_dir=…)` evaluates every policy in force,
writes the rows worth keeping as Parquet and publishes the run atomically; `open_results()` reads
the current run (counts, sorted pages of eligible / needs-information / near-miss / changed rows,
condition ids decoded from the stored bit masks). Calculator: `Calculator` answers for one entity
from facts looked up by key with a prepared statement.
"""

from zhixiang.matching._batch import MatchFailed, run_matching
from zhixiang.matching._calculator import (
    EXPLAIN_PURPOSE,
    Calculator,
    EntityLookup,
    EntityReport,
    explain_under_grants,
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
from zhixiang.matching._household import (
    NEXT_STEP,
    HouseholdReport,
    PolicyOutcome,
    delivery_of,
    explain_resident,
    household_report,
    life_events,
    mask_id,
    mask_name,
)
from zhixiang.matching._residents import (
    HouseholdLookup,
    ResidentCounts,
    count_queries,
    count_residents,
    member_table,
    person_table,
    resident_counts,
    resident_evaluations,
)
from zhixiang.matching._results import KINDS, MatchRow, Results, open_results
from zhixiang.matching._store import MatchRun, PolicyCounts, list_runs, load_run

__all__ = [
    "CHANGES",
    "EXPLAIN_PURPOSE",
    "INDUSTRY_SECTIONS",
    "KINDS",
    "NEXT_STEP",
    "Calculator",
    "ChangeGroup",
    "EntityLookup",
    "EntityReport",
    "HouseholdLookup",
    "HouseholdReport",
    "MatchFailed",
    "MatchRow",
    "MatchRun",
    "PolicyComparison",
    "PolicyCounts",
    "PolicyOutcome",
    "ResidentCounts",
    "Results",
    "compare_policies",
    "connect",
    "count_queries",
    "count_residents",
    "data_problems",
    "delivery_of",
    "district_labels",
    "evaluations",
    "explain_resident",
    "explain_under_grants",
    "facts_from_row",
    "gap_dict",
    "household_report",
    "life_events",
    "list_runs",
    "load_run",
    "mask_id",
    "mask_name",
    "member_table",
    "open_results",
    "person_table",
    "policy_counts",
    "resident_counts",
    "resident_evaluations",
    "run_matching",
]
