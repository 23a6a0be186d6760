"""Text features: Chinese character n-grams, and jieba words for the comparison models."""

from __future__ import annotations

import logging
import re
import unicodedata

import jieba
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

#: Code points fit in 21 bits, so a 1-, 2- or 3-gram is one 63-bit integer; the three lengths fall in
#: disjoint ranges (a bigram's first character is never 0), so codes never collide.
_BITS = np.uint64(21)

jieba.setLogLevel(logging.WARNING)


#: Compatibility characters common in citizens' messages (Latin-1, punctuation, ①–⑳, ㎡, the
#: ideographic space, small and full-width forms), each with its NFKC form.
_FOLD_RANGES: tuple[tuple[int, int], ...] = (
    (0xA0, 0xFF),
    (0x2000, 0x215F),
    (0x2460, 0x24FF),
    (0x3000, 0x3000),
)
_FOLD_RANGES += ((0x3380, 0x33FF), (0xFE10, 0xFE6F), (0xFF01, 0xFFEE))
_FOLDS = {
    c: unicodedata.normalize("NFKC", c)
    for first, last in _FOLD_RANGES
    for c in map(chr, range(first, last + 1))
    if unicodedata.normalize("NFKC", c) != c
}
_FOLDABLE = re.compile("[" + "".join(map(re.escape, _FOLDS)) + "]")
#: The ten most frequent of them in the board's messages (98% of messages have some), commonest first.
_COMMON_FOLDS = tuple((c, _FOLDS[c]) for c in "，？！：）（\u3000；\xa0…")


def normalise(text: str) -> str:
    """NFKC-fold full-width forms and collapse the tabs/newlines the message board leaves around text.

    `unicodedata.normalize` costs a fifth of a classification on a long message, so the common
    full-width characters are replaced first (replacing a character by its NFKC form keeps the
    string's NFKC form); the library runs only if something else is left to fold. The commonest
    are tested one by one (`in` is cheaper than collecting every match of a character class).
    """
    for char, folded in _COMMON_FOLDS:
        if char in text:
            text = text.replace(char, folded)
    for char in set(_FOLDABLE.findall(text)):
        text = text.replace(char, _FOLDS[char])
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return " ".join(
        text.split()
    ).lower()  # str.split's whitespace is re's \s: runs become one space


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
