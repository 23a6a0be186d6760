"""Policies written as rules over entity facts: the language, the policy files, and their compilation.

Everything here is pure: compiling a policy yields an Ibis expression that any engine can run.
"""

from zhixiang.rules._compile import (
    COUNT_COLUMNS,
    birth_columns,
    compile_counts,
    compile_counts_many,
    compile_gaps,
    compile_policy,
)
from zhixiang.rules._format import OPERATOR_LABELS, format_money, format_value
from zhixiang.rules._gap import (
    KIND_LABELS,
    NEAR_MISS_CLOSENESS,
    ConditionKind,
    Gap,
)
from zhixiang.rules._groups import (
    MEMBERS,
    MEMBERS_KEY,
    ROLES,
    birth_date_of_id,
    member_catalog,
    person_scope_catalog,
    scope_catalogs,
)
from zhixiang.rules._language import (
    FIELD_VALUE_TYPES,
    ExpressionError,
    Value,
    ValueType,
    literal_for_field,
)
from zhixiang.rules._policy import (
    AMOUNT_ID,
    DELIVERY_MODES,
    GROUPS_FILE,
    LIFE_EVENTS,
    SHORTFALL_RULES,
    Budget,
    Condition,
    Location,
    Policy,
    PolicyProblem,
    PolicyRejected,
    PolicyTest,
    parse_policy,
    policy_fields,
    policy_files,
)
from zhixiang.rules._policyset import PolicySet, load_policies, run_policy_tests
from zhixiang.rules._verdict import (
    Comparison,
    ConditionOutcome,
    MemberFact,
    Verdict,
    evaluate_policy,
    final_amount,
)

__all__ = [
    "AMOUNT_ID",
    "COUNT_COLUMNS",
    "DELIVERY_MODES",
    "FIELD_VALUE_TYPES",
    "GROUPS_FILE",
    "KIND_LABELS",
    "LIFE_EVENTS",
    "MEMBERS",
    "MEMBERS_KEY",
    "NEAR_MISS_CLOSENESS",
    "OPERATOR_LABELS",
    "ROLES",
    "SHORTFALL_RULES",
    "Budget",
    "Comparison",
    "Condition",
    "ConditionKind",
    "ConditionOutcome",
    "ExpressionError",
    "Gap",
    "Location",
    "MemberFact",
    "Policy",
    "PolicyProblem",
    "PolicyRejected",
    "PolicySet",
    "PolicyTest",
    "Value",
    "ValueType",
    "Verdict",
    "birth_columns",
    "birth_date_of_id",
    "compile_counts",
    "compile_counts_many",
    "compile_gaps",
    "compile_policy",
    "evaluate_policy",
    "final_amount",
    "format_money",
    "format_value",
    "literal_for_field",
    "load_policies",
    "member_catalog",
    "parse_policy",
    "person_scope_catalog",
    "policy_fields",
    "policy_files",
    "run_policy_tests",
    "scope_catalogs",
]
