"""智能咨询: policy texts → clauses → search → cited answers, and clauses → draft rules (政策拆解).

`open_library()` is the one entry point: import documents, ask questions (public), review hotline
knowledge and confirm drafted policies (with a `zhixiang.access.Principal` that holds
`knowledge.manage` or `knowledge.review`).
"""

from zhixiang.knowledge._answer import (
    NO_BASIS,
    NO_BASIS_THRESHOLD,
    Answer,
    Citation,
    Reply,
    Validity,
)
from zhixiang.knowledge._draft import DraftCondition, PolicyDraft, draft_policy, find_conditions
from zhixiang.knowledge._hotline import HotlineReply, labelled_quality, mask_personal, read_replies
from zhixiang.knowledge._index import tokenize
from zhixiang.knowledge._library import (
    CandidateView,
    DocumentSummary,
    DocumentView,
    Filters,
    ImportReport,
    Library,
    PassageView,
)
from zhixiang.knowledge._open import ANSWER_COLUMNS, answer_rows, ask, open_library
from zhixiang.knowledge._questions import MAX_QUESTION_CHARS, check_question, instruction_like
from zhixiang.knowledge._sources import DocumentDraft, ImportProblem
from zhixiang.knowledge._structure import Passage, Structure, parse_structure

__all__ = [
    "ANSWER_COLUMNS",
    "MAX_QUESTION_CHARS",
    "NO_BASIS",
    "NO_BASIS_THRESHOLD",
    "Answer",
    "CandidateView",
    "Citation",
    "DocumentDraft",
    "DocumentSummary",
    "DocumentView",
    "DraftCondition",
    "Filters",
    "HotlineReply",
    "ImportProblem",
    "ImportReport",
    "Library",
    "Passage",
    "PassageView",
    "PolicyDraft",
    "Reply",
    "Structure",
    "Validity",
    "answer_rows",
    "ask",
    "check_question",
    "draft_policy",
    "find_conditions",
    "instruction_like",
    "labelled_quality",
    "mask_personal",
    "open_library",
    "parse_structure",
    "read_replies",
    "tokenize",
]
