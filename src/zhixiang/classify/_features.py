"""Text features: Chinese character n-grams, and jieba words for the comparison models."""

from __future__ import annotations

import logging
import re
import unicodedata

import jieba
from sklearn.feature_extraction.text import TfidfVectorizer

_SPACE = re.compile(r"\s+")

jieba.setLogLevel(logging.WARNING)


def normalise(text: str) -> str:
    """NFKC-fold full-width forms and collapse the tabs/newlines the message board leaves around text."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def segment_words(text: str) -> list[str]:
    """jieba words without the HMM pass (faster, and new-word guessing adds noise on 400 messages)."""
    return [w for w in jieba.lcut(text, HMM=False) if not w.isspace()]


def char_ngrams(min_df: int = 2) -> TfidfVectorizer:
    """Character 1–3-grams: segmentation-free, robust to the anonymised place names (A市, A2区)."""
    return TfidfVectorizer(
        analyzer="char",
        ngram_range=(1, 3),
        preprocessor=normalise,
        sublinear_tf=True,
        min_df=min_df,
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
