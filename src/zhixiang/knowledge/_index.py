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
from collections.abc import Callable, Iterable
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
PARALLEL_ABOVE = 2_000_000  # characters; below this, one process is faster than starting two


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


@cache
def _segmenter() -> Callable[[str], list[str]]:
    """jieba's segmentation: rjieba (jieba-rs, the same dictionary and algorithm, ~25x faster) when
    installed, else jieba itself. Their Chinese words are the same; rjieba keeps a phone number or
    a web address (400-893-9111, www.gz.gov.cn) as one token where jieba splits it at - and ."""
    try:
        import rjieba
    except ImportError:
        return _jieba().lcut  # type: ignore[no-any-return]
    return rjieba.cut  # type: ignore[no-any-return]


def words(text: str) -> list[str]:
    """jieba words of `text` that carry meaning (no punctuation, no function words), lower-cased."""
    return [w.lower() for w in _segmenter()(text) if w not in STOP_WORDS and _WORD.search(w)]


def bigrams(text: str) -> list[str]:
    found: list[str] = []
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


def passage_tokens(title: str, context: str, text: str, seen: dict[str, list[str]]) -> str:
    """Space-joined tokens of a passage as it is searched: its document's title, the headings
    above it, then its text. Titles and headings repeat across a document's passages, so their
    tokens are kept in `seen` (segmenting stops at a line break, so the parts add up to the whole).
    """
    parts: list[str] = []
    for part in (title, context):
        if part not in seen:
            seen[part] = tokenize(part)
        parts.extend(seen[part])
    parts.extend(tokenize(text))
    return " ".join(parts)


def parallel_map(fn: Callable[[list], list], items: list, heavy: bool, workers: int = 2) -> list:
    """`fn` over chunks of `items`, results in order; on `workers` processes when `heavy`."""
    if not heavy or workers < 2 or len(items) < 2:
        return fn(items)
    size = math.ceil(len(items) / (workers * 8))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [result for part in pool.map(fn, chunks) for result in part]


class _Vocabulary(dict[str, int]):
    """token → id, handing out the next id to a token it has not seen (0 is the empty token)."""

    def __missing__(self, token: str) -> int:
        self[token] = len(self)
        return self[token]


def bm25_scores(
    flat: np.ndarray, ends: np.ndarray, n_vocab: int, k1: float = 1.5, b: float = 0.75
) -> dict:
    """bm25s's score matrix (its defaults: Lucene BM25, k1 1.5, b 0.75) computed with numpy.

    `flat` holds every passage's token ids one after the other, `ends` where each passage ends.
    bm25s builds the same matrix in Python loops over every passage (half a minute for 150,000
    passages); here it is a sort and a few array operations. Columns are tokens, rows passages.
    """
    n_docs = len(ends)
    lengths = np.diff(ends, prepend=0)
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    pairs, tf = np.unique(flat.astype(np.int64) * n_docs + doc_of, return_counts=True)
    token, doc = np.divmod(pairs, n_docs)
    df = np.bincount(token, minlength=n_vocab)
    idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5))
    relative = lengths / lengths.mean() if n_docs else lengths
    tf = tf.astype(np.float64)
    data = idf[token] * tf / (k1 * ((1 - b) + b * relative[doc]) + tf)
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    return {
        "data": data.astype(np.float32),
        "indices": doc.astype(np.int32),
        "indptr": indptr.astype(np.int32) if indptr[-1] < 2**31 else indptr,
        "num_docs": n_docs,
    }


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

        vocab = _Vocabulary({"": 0})
        ids, flat, ends = array("q"), array("i"), array("q")
        for clause_id, tokens in rows:
            ids.append(clause_id)
            flat.extend(map(vocab.__getitem__, tokens.split()) if tokens else (0,))
            if len(flat) == (ends[-1] if ends else 0):
                flat.append(0)  # a passage without tokens holds the empty token, as in bm25s
            ends.append(len(flat))
        retriever = bm25s.BM25()
        retriever.scores = bm25_scores(
            np.frombuffer(flat, dtype=np.int32), np.frombuffer(ends, dtype=np.int64), len(vocab)
        )
        retriever.vocab_dict = dict(vocab)
        retriever.unique_token_ids_set = set(vocab.values())
        retriever.nonoccurrence_array = None
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
