"""Outcomes of the rules: batch matching over all entities, and the one-entity policy calculator."""

from zhixiang.matching._calculator import Calculator, EntityReport, facts_from_row
from zhixiang.matching._engine import (
    MATCHES,
    SUMMARY,
    MatchRun,
    PolicyCounts,
    connect,
    data_problems,
    evaluations,
    near_misses,
    policy_counts,
    run_matching,
    summarize,
)

__all__ = [
    "MATCHES",
    "SUMMARY",
    "Calculator",
    "EntityReport",
    "MatchRun",
    "PolicyCounts",
    "connect",
    "data_problems",
    "evaluations",
    "facts_from_row",
    "near_misses",
    "policy_counts",
    "run_matching",
    "summarize",
]
