"""Outcomes of the rules: batch matching over all entities, and the one-entity policy calculator.

Batch: `run_matching(source, policies, as_of, results_dir=…)` evaluates every policy in force,
writes the rows worth keeping as Parquet and publishes the run atomically; `open_results()` reads
the current run (counts, sorted pages of eligible / needs-information / near-miss / changed rows,
condition ids decoded from the stored bit masks). Calculator: `Calculator` answers for one entity
from facts looked up by key with a prepared statement.
"""

from zhixiang.matching._batch import MatchFailed, run_matching
from zhixiang.matching._calculator import Calculator, EntityLookup, EntityReport, facts_from_row
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
    count_residents,
    materialised_tables,
    member_table,
    person_table,
    resident_counts,
    resident_evaluations,
)
from zhixiang.matching._results import KINDS, MatchRow, Results, open_results
from zhixiang.matching._store import MatchRun, PolicyCounts, list_runs, load_run

__all__ = [
    "KINDS",
    "NEXT_STEP",
    "Calculator",
    "EntityLookup",
    "EntityReport",
    "HouseholdLookup",
    "HouseholdReport",
    "MatchFailed",
    "MatchRow",
    "MatchRun",
    "PolicyCounts",
    "PolicyOutcome",
    "ResidentCounts",
    "Results",
    "connect",
    "count_residents",
    "data_problems",
    "delivery_of",
    "evaluations",
    "explain_resident",
    "facts_from_row",
    "household_report",
    "life_events",
    "list_runs",
    "load_run",
    "mask_id",
    "mask_name",
    "materialised_tables",
    "member_table",
    "open_results",
    "person_table",
    "policy_counts",
    "resident_counts",
    "resident_evaluations",
    "run_matching",
]
