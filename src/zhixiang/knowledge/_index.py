"""The on-disk lexical index: BM25 (bm25s) over jieba words and character bigrams of every passage.

Words catch terms (失业保险金, 公共租赁住房); bigrams catch what the segmenter splits differently in a
question and in a text (公租房 / 公共租赁住房 share none, but 领取 / 领取失业 share 领取). Both live
in one vocabulary: a bigram is written with a leading `·` so it never collides with a word.
The store keeps each passage's words, so rebuilding the index never segments a text twice.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[\u3400-\u9fffA-Za-z0-9]")
BIGRAM = "·"
# Words of asking, not of the subject: removed from questions before they are searched.
QUESTION_WORDS = (
    "请问", "请教", "咨询", "怎么办", "怎么样", "怎么", "怎样", "如何", "什么", "哪些", "哪里", "哪个",
    "多少钱", "多少", "能否", "是否", "可不可以", "可以", "能不能", "需要", "我想", "想问", "想要",
    "一下", "我们", "我的", "我是", "我", "您好", "你好", "您", "你", "吗", "呢", "吧", "啊", "呀",
    "谢谢", "麻烦",
)  # fmt: skip
_QUESTION_WORDS = re.compile("|".join(sorted(QUESTION_WORDS, key=len, reverse=True)))
STOP_WORDS = frozenset(
    [
        "的",
        "了",
        "和",
        "与",
        "及",
        "或",
        "等",
        "是",
        "在",
        "对",
        "由",
        "为",
        "应当",
        "按照",
        "根据",
        "有关",
        "其",
        "之",
        "以",
        "可",
        "并",
        "不",
        "也",
        "就",
        "都",
        "将",
        "于",
        "向",
        "从",
    ]
)
PARALLEL_ABOVE = (
    20_000  # passages; below this, segmenting in one process is faster than starting two
)


@cache
def _jieba():  # type: ignore[no-untyped-def]
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    return jieba


def _rarity(word: str) -> float:
    """0 for everyday words, 1 for rare ones: how surprising `word` is in general Chinese text."""
    jieba = _jieba()
    information = math.log(jieba.dt.total / (jieba.dt.FREQ.get(word, 0) + 1))
    return min(1.0, max(0.0, (information - COMMON_INFORMATION) / RARE_SPAN))


COMMON_INFORMATION = 9.5  # bits (nats) of a word as common as 满足 or 申请
RARE_SPAN = 4.0  # …and as rare as 末班车 or 米其林 at COMMON_INFORMATION + RARE_SPAN


def words(text: str) -> list[str]:
    """jieba words of `text` that carry meaning (no punctuation, no function words), lower-cased."""
    return [w.lower() for w in _jieba().lcut(text) if _WORD.search(w) and w not in STOP_WORDS]


def bigrams(text: str) -> list[str]:
    found = []
    for run in _CJK_RUN.findall(text):
        found.extend(BIGRAM + run[i : i + 2] for i in range(len(run) - 1))
    return found


def tokenize(text: str) -> list[str]:
    return words(text) + bigrams(text)


# Short forms people say for the terms the texts use: questions are searched with the full form.
ABBREVIATIONS = {
    "公租房": "公共租赁住房", "廉租房": "廉租住房", "医保": "医疗保险", "社保": "社会保险",
    "低保": "最低生活保障", "公积金": "住房公积金", "失业金": "失业保险金", "养老金": "基本养老金",
    "长护险": "长期护理保险", "个体户": "个体工商户", "退休金": "基本养老金",
}  # fmt: skip


def question_text(question: str) -> str:
    """The subject of a question: the words of asking replaced by a break, short forms written out."""
    text = _QUESTION_WORDS.sub("，", question)
    for short, full in ABBREVIATIONS.items():
        if short in text and full not in text:
            text = text.replace(short, full)
    return text


def _tokenize_many(texts: Sequence[str]) -> list[str]:
    return [" ".join(tokenize(t)) for t in texts]


def tokenize_all(texts: Sequence[str], workers: int = 2) -> list[str]:
    """Space-joined tokens of many texts; large batches are split over `workers` processes."""
    if len(texts) < PARALLEL_ABOVE or workers < 2:
        return _tokenize_many(texts)
    size = math.ceil(len(texts) / (workers * 8))
    chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [tokens for part in pool.map(_tokenize_many, chunks) for tokens in part]


class _Rows:
    """Token ids of every passage in one flat array, read back one passage at a time as a list.

    bm25s reads the corpus three times; holding 150,000 passages as Python lists of strings took
    over 4 GB, this takes about 150 MB.
    """

    def __init__(self) -> None:
        self.flat = array("i")
        self.ends = array("q")

    def __len__(self) -> int:
        return len(self.ends)

    def __iter__(self) -> Iterator[list[int]]:
        start = 0
        flat = self.flat
        for end in self.ends:
            yield flat[start:end].tolist() or [0]
            start = end


class _Corpus:
    """What bm25s indexes: `ids` (passages as token ids) and `vocab` (token → id; 0 is empty)."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {"": 0}
        self.ids = _Rows()

    def add(self, tokens: list[str]) -> None:
        vocab = self.vocab
        self.ids.flat.extend(vocab.setdefault(t, len(vocab)) for t in tokens)
        self.ids.ends.append(len(self.ids.flat))


@dataclass
class Hit:
    row: int
    clause_id: int
    score: float


class LexicalIndex:
    """BM25 over passages; row i of the index is the passage with `clause_ids[i]`."""

    def __init__(self, retriever, clause_ids: np.ndarray, generation: str) -> None:  # type: ignore[no-untyped-def]
        self.retriever = retriever
        self.clause_ids = clause_ids
        self.generation = generation
        self.vocab: dict[str, int] = retriever.vocab_dict
        df = np.diff(retriever.scores["indptr"]).astype(np.float64)
        n = len(clause_ids)
        self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5))

    @classmethod
    def build(cls, rows: Iterable[tuple[int, str]], generation: str) -> LexicalIndex:
        """Index passages given as (clause id, space-joined tokens), streamed once."""
        import bm25s

        corpus = _Corpus()
        ids = array("q")
        for clause_id, tokens in rows:
            ids.append(clause_id)
            corpus.add(tokens.split())
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        return cls(retriever, np.frombuffer(ids, dtype=np.int64).copy(), generation)

    def __len__(self) -> int:
        return len(self.clause_ids)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.retriever.save(str(folder), show_progress=False)
        np.save(folder / "clause_ids.npy", self.clause_ids)
        (folder / "generation.json").write_text(json.dumps({"generation": self.generation}))

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex | None:
        """The index saved in `folder`, or None when there is none (or it is unreadable)."""
        import bm25s

        try:
            generation = json.loads((folder / "generation.json").read_text())["generation"]
            retriever = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
            ids = np.load(folder / "clause_ids.npy")
        except (OSError, ValueError, KeyError):
            return None
        return cls(retriever, ids, generation)

    def known(self, tokens: Iterable[str]) -> list[str]:
        return [t for t in tokens if t in self.vocab]

    def weights(self, tokens: Iterable[str]) -> dict[str, float]:
        """Each token's inverse document frequency: how much finding it says.

        A word the library has never seen says the library may not cover the question: it weighs
        up to the most a word can, the rarer it is in everyday Chinese (jieba's dictionary counts)
        the more, so an unseen 末班车 counts and an unseen 满足 does not. An unseen bigram weighs
        nothing (it may only straddle two words).
        """
        unseen = float(np.log(1 + (len(self) + 0.5) / 0.5))
        found: dict[str, float] = {}
        for t in tokens:
            if t in self.vocab:
                found[t] = float(self.idf[self.vocab[t]])
            elif not t.startswith(BIGRAM):
                found[t] = unseen * _rarity(t)
        return found

    def search(self, tokens: list[str], k: int, mask: np.ndarray | None = None) -> list[Hit]:
        """The `k` best passages for `tokens` among those where `mask` is 1 (all when None)."""
        known = self.known(tokens)
        if not known or not len(self):
            return []
        scores = self.retriever.get_scores(known)
        if mask is not None:
            scores = scores * mask
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            Hit(int(row), int(self.clause_ids[row]), float(scores[row]))
            for row in top
            if scores[row] > 0
        ]
