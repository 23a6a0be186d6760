"""What a question or a text may contain: length limits, Chinese only, instruction-like text.

Answers are extractive, so text that tries to give orders ("忽略以上规则…") cannot change what is
said; it is still removed from questions before searching, flagged in imported documents, and never
sent to the optional rewriting model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from zhixiang.errors import InvalidInput, PayloadTooLarge

MAX_QUESTION_CHARS = 2000
_CJK = re.compile(r"[\u3400-\u9fff]")
_INJECTION = re.compile(
    r"(忽略|无视|忘记|不要理会|跳过)(以上|上面|之前|前面|先前|所有|全部|你的)?的?(所有|全部)?(规则|指令|指示|提示|要求|设定|限制)"
    r"|(你现在是|你将扮演|扮演一个|假装你是|从现在起你)"
    r"|(系统提示词|system\s*prompt|developer\s*mode|越狱|jailbreak)"
    r"|(ignore|disregard|forget)\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier)\s+(instructions|rules|prompts?)"
    r"|(输出|泄露|告诉我)(你的)?(提示词|系统设定|密钥|口令)",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^。！？!?\n；;]+[。！？!?\n；;]?")


@dataclass(frozen=True)
class CheckedQuestion:
    text: str  # what is searched: the question less any instruction-like sentences
    original: str
    notes: tuple[str, ...]
    chinese: bool


def instruction_like(text: str) -> bool:
    """Whether `text` holds words that try to instruct a model rather than state a policy."""
    return _INJECTION.search(text) is not None


def strip_instructions(text: str) -> tuple[str, bool]:
    """`text` without its instruction-like sentences, and whether any were removed."""
    kept = [s for s in _SENTENCE.findall(text) if not instruction_like(s)]
    cleaned = "".join(kept).strip()
    return cleaned, cleaned != text.strip()


def check_question(question: object) -> CheckedQuestion:
    """Refuse an empty or overlong question; note (not refuse) foreign-language or hostile text."""
    if not isinstance(question, str) or not question.strip():
        raise InvalidInput("问题为空：请用一句中文描述您想了解的政策", "question")
    text = question.strip()
    if len(text) > MAX_QUESTION_CHARS:
        raise PayloadTooLarge(
            f"问题过长（{len(text):,} 字），请控制在 {MAX_QUESTION_CHARS:,} 字以内", "question"
        )
    notes: list[str] = []
    cleaned, removed = strip_instructions(text)
    if removed:
        notes.append("问题中含有试图改变回答规则的文字，已忽略，只按政策原文回答")
    chinese = bool(_CJK.search(cleaned))
    if not chinese:
        notes.append("目前只能回答中文问题，请用中文提问（Please ask in Chinese）")
    return CheckedQuestion(cleaned, text, tuple(notes), chinese)
