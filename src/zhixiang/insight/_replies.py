"""Reply quality (答复质量): does a department's reply answer this message, fully, with reasons, in time?

Five parts, each 0–1, and a weighted total (weights in `ReplyWeights`):

- 相关性 relevance: how much of what is specific to *this* message (its title's content, the places
  it names, its wording) the reply takes up. Bigrams are weighted by rarity (a shipped table of how
  common each character pair is in messages and replies), so 丽发新城 counts and 您好 does not; a
  reply written for a similar message shares the common words but misses the specifics.
- 完整性 completeness: the message is cut into requests (sentences that ask: 请, 希望, 何时, 吗, ？ …);
  a request is answered when the reply takes up enough of its specific wording.
- 可解释性 explanation: reasons (经调查, 原因), legal or policy basis (《…》, 根据, 规定), what was done
  or will be done (已责令, 整改, 将于), and a contact (电话, 联系) — each found or missing.
- 及时性 timeliness: working days (法定节假日 and 调休 counted, by the tickets package's calendar)
  from message to reply, full marks within `limit_days`, none at three times that.
- 语气 tone: courtesy (您好, 感谢), against brush-offs (与我单位无关, 请自行).

The 问题 text lists what is missing, in the words a reviewer would use.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import TypedDict

from zhixiang.insight._places import AREA, candidates
from zhixiang.insight._text import fold

BIGRAM_TABLE = Path(__file__).with_name("reply_bigrams.json")
_SENTENCE = re.compile(r"[。！？!?；;\n]+")
_ASKS = re.compile(
    r"请|希望|要求|建议|能否|能不能|可否|是否|何时|什么时候|怎么|怎样|如何|为什么|为何|吗|呢|\?|？|尽快|恳请|呼吁|盼"
)
_REASON = re.compile(
    r"因为|由于|原因|经调查|经核实|经核查|经查|经了解|经现场|核实|调查|系.{0,10}所致|属于|目前"
)
_BASIS = re.compile(
    r"《[^》]{2,60}》|根据|依据|按照|依照|规定|条例|办法|法律|法规|政策|文件|第[一二三四五六七八九十百0-9]+条"
)
_ACTION = re.compile(
    r"已(经)?(安排|组织|责令|督促|要求|完成|处理|整改|协调|联系|派|对|将|于|拆除|清理|维修|立案|约谈|查处|下达)"
    r"|立即|下一步|将(于|在|继续|加强|进一步|尽快)|整改|约谈|查处|处罚|拆除|维修|清理|处置|落实"
)
_CONTACT = re.compile(r"电话|热线|联系方式|联系人|咨询|[0-9]{3,4}-?[0-9]{7,8}|1[3-9][0-9]{9}|12345")
_FORWARD_ONLY = re.compile(
    r"(已|现)?(转交|转至|转给|转|交办|交由|发函).{0,20}(办理|处理|核处|调查)"
)
_POLITE = re.compile(r"您好|你好|感谢|谢谢|理解|支持|欢迎|敬请|祝|关心")
_BRUSH_OFF = re.compile(
    r"与我.{0,4}无关|不属于我.{0,6}(职责|范围|管辖)|请自行|无法答复|不予受理|不清楚|不归我|请另行|不予回复"
)


@dataclass(frozen=True)
class ReplyWeights:
    relevance: float = 0.3
    completeness: float = 0.2
    explanation: float = 0.3
    timeliness: float = 0.1
    tone: float = 0.1


@dataclass(frozen=True)
class ReplySettings:
    """Knobs of reply scoring: weights, the time limit in working days, when a reply is weak."""

    weights: ReplyWeights = ReplyWeights()
    limit_days: int = 15
    weak_below: float = 0.5
    answered_share: float = 0.25


@dataclass(frozen=True)
class ReplyScore:
    """One reply's scores (0–1; timeliness None when the times are unknown) and what is missing."""

    relevance: float
    completeness: float
    explanation: float
    timeliness: float | None
    tone: float
    total: float
    problems: list[str]
    working_days: int | None = None

    @property
    def summary(self) -> str:
        return "；".join(self.problems) if self.problems else "无明显问题"


@lru_cache(maxsize=1)
def _common_bigrams() -> tuple[dict[str, float], float]:
    """Rarity weights (idf) of the commonest character pairs; a pair not listed is rare."""
    table = json.loads(BIGRAM_TABLE.read_text(encoding="utf-8"))
    documents = table["documents"]
    idf = {g: math.log((1 + documents) / (1 + n)) + 1.0 for g, n in table["bigrams"].items()}
    rare = math.log((1 + documents) / (1 + table["floor"])) + 1.0
    return idf, rare


class BigramTable(TypedDict):
    """The shipped reply_bigrams.json: texts counted, the rarest kept count, bigram → texts."""

    documents: int
    floor: int
    bigrams: dict[str, int]


def bigram_table(texts: Iterable[str], keep: int = 6_000) -> BigramTable:
    """The shipped table: in how many texts each of the `keep` commonest bigrams occurs."""
    counts: Counter[str] = Counter()
    documents = 0
    for text in texts:
        counts.update(_bigrams(fold(text)))
        documents += 1
    common = dict(counts.most_common(keep))
    return {"documents": documents, "floor": min(common.values(), default=1), "bigrams": common}


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _weighted_coverage(
    grams: set[str], reply: set[str], idf: dict[str, float], rare: float
) -> float:
    """Share of the grams' rarity mass found in the reply; common pairs weigh little."""
    total = found = 0.0
    for g in grams:
        w = idf.get(g, rare) ** 2
        total += w
        if g in reply:
            found += w
    return found / total if total else 0.0


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when the reply came the same day)."""
    from zhixiang.tickets import add_working_days

    days, day = 0, start
    while True:
        day, _ = add_working_days(day, 1)
        if day > end:
            return days
        days += 1


class ReplyScorer:
    """Scores replies; stateless apart from the shipped bigram table, so one instance serves all."""

    def __init__(self, settings: ReplySettings = ReplySettings()) -> None:
        self.settings = settings
        self._idf, self._rare = _common_bigrams()

    def score(
        self,
        title: str,
        body: str,
        reply: str,
        asked_at: datetime | None = None,
        replied_at: datetime | None = None,
    ) -> ReplyScore:
        settings, problems = self.settings, []
        message, answer = fold(f"{title}。{body}"), fold(reply)
        if not answer:
            return ReplyScore(0.0, 0.0, 0.0, None, 0.0, 0.0, ["答复为空"])
        answer_grams = _bigrams(answer)
        relevance = self._relevance(fold(title), message, answer, answer_grams)
        if relevance < 0.35:
            problems.append(
                "答复与本条留言的具体内容（标题、地点）对应不上，可能答非所问或套用了其他留言的答复"
            )
        requests = self._requests(fold(title), fold(body))
        answered = [
            _weighted_coverage(grams, answer_grams, self._idf, self._rare)
            >= settings.answered_share
            for grams in requests
        ]
        completeness = sum(answered) / len(answered) if answered else 1.0
        if completeness < 1.0:
            missed = len(answered) - sum(answered)
            problems.append(f"留言中 {len(answered)} 项诉求有 {missed} 项未见回应")
        explanation, missing = self._explanation(answer)
        if missing:
            problems.append("缺少" + "、".join(missing))
        timeliness, days = self._timeliness(asked_at, replied_at)
        if timeliness is not None and timeliness < 1.0:
            problems.append(f"答复用时 {days} 个工作日，超过 {settings.limit_days} 个工作日")
        tone = self._tone(answer)
        if tone < 0.5:
            problems.append("语气生硬或推诿")
        w = settings.weights
        parts = [
            (w.relevance, relevance),
            (w.completeness, completeness),
            (w.explanation, explanation),
            (w.tone, tone),
        ]
        if timeliness is not None:
            parts.append((w.timeliness, timeliness))
        total = sum(a * b for a, b in parts) / sum(a for a, _ in parts)
        return ReplyScore(
            round(relevance, 4),
            round(completeness, 4),
            round(explanation, 4),
            None if timeliness is None else round(timeliness, 4),
            round(tone, 4),
            round(total, 4),
            problems,
            days,
        )

    def is_weak(self, score: ReplyScore) -> bool:
        """Whether a reply should go back to its department before the citizen sees it."""
        return score.total < self.settings.weak_below

    def _relevance(self, title: str, message: str, answer: str, answer_grams: set[str]) -> float:
        idf, rare = self._idf, self._rare
        title_part = _weighted_coverage(_bigrams(title), answer_grams, idf, rare)
        places = {c for c in candidates(message)} | {m.group(0) for m in AREA.finditer(message)}
        specific = sorted(places, key=len, reverse=True)[:12]
        place_part = sum(p in answer for p in specific) / len(specific) if specific else title_part
        body_part = _weighted_coverage(_bigrams(message[:400]), answer_grams, idf, rare)
        # the reply's opening restates the problem: a reply written for another message names
        # that message's specifics, which this one lacks
        own = _weighted_coverage(_bigrams(answer[:150]), _bigrams(message), idf, rare)
        mix = 0.35 * title_part + 0.15 * place_part + 0.2 * body_part + 0.3 * own
        return min(1.0, mix) ** 0.75

    def _requests(self, title: str, body: str) -> list[set[str]]:
        sentences = [s for s in _SENTENCE.split(body) if len(s) >= 4]
        asks = [s for s in sentences if _ASKS.search(s)]
        chosen = asks[:8] or [title]
        return [g for g in (_bigrams(_ASKS.sub("", s)) for s in chosen) if g]

    @staticmethod
    def _explanation(answer: str) -> tuple[float, list[str]]:
        checks = [
            (0.3, _REASON, "原因或调查核实情况"),
            (0.25, _BASIS, "依据（法规、政策、文件）"),
            (0.3, _ACTION, "已采取或将采取的措施"),
            (0.15, _CONTACT, "联系方式"),
        ]
        score, missing = 0.0, []
        for weight, pattern, label in checks:
            if pattern.search(answer):
                score += weight
            else:
                missing.append(label)
        if len(answer) < 80 and _FORWARD_ONLY.search(answer):
            score = min(score, 0.2)
            missing.insert(0, "实质内容（仅告知已转办）")
        elif len(answer) < 60:
            score = min(score, 0.4)
        return score, missing

    def _timeliness(
        self, asked: datetime | None, replied: datetime | None
    ) -> tuple[float | None, int | None]:
        if asked is None or replied is None or replied < asked:
            return None, None
        days = working_days_between(asked.date(), replied.date())
        limit = self.settings.limit_days
        if days <= limit:
            return 1.0, days
        return max(0.0, 1.0 - (days - limit) / (2 * limit)), days

    @staticmethod
    def _tone(answer: str) -> float:
        polite = min(2, len(_POLITE.findall(answer)))
        rude = len(_BRUSH_OFF.findall(answer))
        return max(0.0, min(1.0, 0.6 + 0.2 * polite - 0.35 * rude))
