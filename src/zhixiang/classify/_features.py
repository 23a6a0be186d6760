"""Text features: Chinese character n-grams, and jieba words for the comparison models."""

from __future__ import annotations

import logging
import re
import unicodedata

import jieba
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

_SPACE = re.compile(r"\s+")
#: Code points fit in 21 bits, so a 1-, 2- or 3-gram is one 63-bit integer; the three lengths fall in
#: disjoint ranges (a bigram's first character is never 0), so codes never collide.
_BITS = np.uint64(21)

jieba.setLogLevel(logging.WARNING)


def normalise(text: str) -> str:
    """NFKC-fold full-width forms and collapse the tabs/newlines the message board leaves around text."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return _SPACE.sub(" ", text).strip().lower()


def gram_codes(text: str) -> np.ndarray:
    """Every character 1-, 2- and 3-gram of an already normalised text, as integer codes.

    The same grams as sklearn's `analyzer="char", ngram_range=(1, 3)`, computed with array
    arithmetic instead of one Python string per gram: the classifier's features at a third of
    the cost (issue 13: ≥ 3,000 single tickets per CPU-second).
    """
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(points) < 2:
        return points
    bigrams = (points[:-1] << _BITS) | points[1:]
    trigrams = (bigrams[:-1] << _BITS) | points[2:]
    return np.concatenate([points, bigrams, trigrams])


def term_code(term: str) -> int:
    """The code `gram_codes` gives the n-gram `term` (1–3 characters)."""
    code = 0
    for char in term:
        code = (code << 21) | ord(char)
    return code


def segment_words(text: str) -> list[str]:
    """jieba words without the HMM pass (faster, and new-word guessing adds noise on 400 messages)."""
    return [w for w in jieba.lcut(text, HMM=False) if not w.isspace()]


def char_ngrams(min_df: int = 2, max_features: int | None = None) -> TfidfVectorizer:
    """Character 1–3-grams: segmentation-free, robust to the anonymised place names (A市, A2区).

    `max_features` keeps the most frequent n-grams only (the tf-idf norm is then over those, at
    training and at prediction alike), which keeps the shipped model small and its lookups fast.
    """
    return TfidfVectorizer(
        analyzer="char",
        ngram_range=(1, 3),
        preprocessor=normalise,
        sublinear_tf=True,
        min_df=min_df,
        max_features=max_features,
    )


def word_ngrams(min_df: int = 1) -> TfidfVectorizer:
    """jieba word uni- and bigrams: the classical segmented baseline."""
    return TfidfVectorizer(
        tokenizer=segment_words,
        token_pattern=None,
        preprocessor=normalise,
        ngram_range=(1, 2),
        sublinear_tf=True,
        min_df=min_df,
    )
