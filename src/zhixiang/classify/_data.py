"""Reading message CSVs (the taidi2020 layout) with errors that name the file, record and column."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

TITLE, BODY, LABEL = "留言主题", "留言详情", "一级分类"
PREDICTED, CONFIDENCE = "预测分类", "置信度"


def default_training_data() -> Path:
    """The shared labelled messages: $ZHIXIANG_SHARED_DATA, else ../shared/data beside the repository."""
    from zhixiang.config import load_settings

    return load_settings().shared_data_dir / "taidi2020" / "messages_labeled.csv"


class MessageFileError(ValueError):
    """A message CSV that cannot be used; the text says which file, record and column, and why."""


@dataclass(frozen=True)
class Messages:
    """The rows of a message CSV, with titles and bodies as plain strings (blank where empty)."""

    frame: pd.DataFrame
    titles: list[str]
    bodies: list[str]
    labels: list[str] | None


def read_messages(path: Path, *, labelled: bool = False) -> Messages:
    """Read a CSV with 留言主题 and 留言详情 (and 一级分类 when `labelled`); UTF-8 or GB18030.

    Records are numbered from 1 after the header, as a spreadsheet shows them less one; texts may span
    several lines, so line numbers would mislead.
    """
    path = Path(path)
    if not path.is_file():
        raise MessageFileError(f"{path}: 文件不存在")
    frame = _read_csv(path)
    required = [TITLE, BODY, LABEL] if labelled else [TITLE, BODY]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise MessageFileError(
            f"{path}: 缺少列 {'、'.join(missing)}（需要 {'、'.join(required)}；"
            f"文件中的列为 {'、'.join(map(str, frame.columns)) or '无'}）"
        )
    if frame.empty:
        raise MessageFileError(f"{path}: 没有数据行（只有表头）")
    titles = _texts(frame[TITLE])
    bodies = _texts(frame[BODY])
    for record, (title, body) in enumerate(zip(titles, bodies, strict=True), start=1):
        if not title.strip() and not body.strip():
            raise MessageFileError(f"{path}: 第 {record} 条记录的 {TITLE} 和 {BODY} 都为空")
    labels = None
    if labelled:
        labels = _texts(frame[LABEL])
        for record, label in enumerate(labels, start=1):
            if not label.strip():
                raise MessageFileError(f"{path}: 第 {record} 条记录的 {LABEL} 为空")
        labels = [label.strip() for label in labels]
    return Messages(frame=frame, titles=titles, bodies=bodies, labels=labels)


def _read_csv(path: Path) -> pd.DataFrame:
    last_error: Exception | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
        except UnicodeDecodeError as exc:
            last_error = exc
        except pd.errors.EmptyDataError:
            raise MessageFileError(f"{path}: 文件为空，应为带表头的 CSV") from None
        except pd.errors.ParserError as exc:
            raise MessageFileError(f"{path}: 不是有效的 CSV（{exc}）") from None
    raise MessageFileError(f"{path}: 无法按 UTF-8 或 GB18030 解码（{last_error}）")


def _texts(column: pd.Series) -> list[str]:
    return ["" if v is None else str(v) for v in column.tolist()]


SEGMENTED_TEXT = "分词文本_去停用词"
#: Cosine (character 2–3-gram TF-IDF of the text without punctuation) at which two messages are
#: one complaint posted again; across the two files lower, because segmentation dropped stop words.
SAME_MESSAGE = 0.5
SAME_MESSAGE_ACROSS = 0.4


@dataclass(frozen=True)
class Corpus:
    """Labelled messages for training and CV: `groups` keeps near-duplicates in one fold, and rows
    with `extra` set (segmented-only texts) are only ever trained on, never tested on."""

    titles: list[str]
    bodies: list[str]
    labels: list[str]
    groups: list[int]
    extra: list[bool]
    dropped_duplicates: int
    source: str


def default_segmented_data() -> Path:
    return default_training_data().with_name("messages_labeled_segmented.csv")


def training_corpus(
    labelled: Path | None = None, segmented: Path | None = None, *, use_segmented: bool = True
) -> Corpus:
    """The labelled messages with near-duplicate groups, plus the segmented file's messages that
    are not already in the labelled file (their text with the spaces removed, no title)."""
    import re

    labelled = Path(labelled or default_training_data())
    messages = read_messages(labelled, labelled=True)
    assert messages.labels is not None
    titles, bodies, labels = list(messages.titles), list(messages.bodies), list(messages.labels)
    extra = [False] * len(titles)
    n_raw = len(titles)
    source = f"{labelled.name}（{n_raw} 条）"
    if use_segmented:
        segmented = Path(segmented or default_segmented_data())
        if not segmented.is_file():
            raise MessageFileError(f"{segmented}: 文件不存在")
        frame = _read_csv(segmented)
        missing = [c for c in (SEGMENTED_TEXT, LABEL) if c not in frame.columns]
        if missing:
            raise MessageFileError(f"{segmented}: 缺少列 {'、'.join(missing)}")
        for record, (text, label) in enumerate(
            zip(frame[SEGMENTED_TEXT], frame[LABEL], strict=True), start=1
        ):
            if not str(text).strip() or not str(label).strip():
                raise MessageFileError(
                    f"{segmented}: 第 {record} 条记录的 {SEGMENTED_TEXT} 或 {LABEL} 为空"
                )
            titles.append("")
            bodies.append(str(text).replace(" ", ""))
            labels.append(str(label).strip())
            extra.append(True)
    squash = re.compile(r"[^\u4e00-\u9fffA-Za-z0-9]")
    texts = [squash.sub("", f"{t}{b}") for t, b in zip(titles, bodies, strict=True)]
    groups = _near_duplicate_groups([t[:300] for t in texts], n_raw)
    # a segmented message that is a labelled one again adds nothing: drop it
    raw_groups = set(groups[:n_raw])
    keep = [i for i in range(len(texts)) if i < n_raw or groups[i] not in raw_groups]
    dropped = len(texts) - len(keep)
    if use_segmented:
        assert segmented is not None  # set above when use_segmented
        source += f" + {segmented.name}（{len(texts) - n_raw} 条，去除与前者重复的 {dropped} 条）"
    return Corpus(
        titles=[titles[i] for i in keep],
        bodies=[bodies[i] for i in keep],
        labels=[labels[i] for i in keep],
        groups=[int(groups[i]) for i in keep],
        extra=[extra[i] for i in keep],
        dropped_duplicates=dropped,
        source=source,
    )


def _near_duplicate_groups(texts: list[str], n_first: int) -> list[int]:
    """Connected components of the 'same message' graph (see SAME_MESSAGE)."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = len(texts)
    vectorizer = TfidfVectorizer(
        analyzer="char", ngram_range=(2, 3), sublinear_tf=True, min_df=2, max_df=max(50, n // 50)
    )
    try:
        vectors = vectorizer.fit_transform(texts)
    except ValueError:  # no n-gram in two texts: every message is its own group
        return list(range(n))
    rows, cols = [], []
    first = np.arange(n) < n_first
    for start in range(0, n, 2_000):
        block = (vectors[start : start + 2_000] @ vectors.T).tocoo()
        r = block.row + start
        across = first[r] != first[block.col]
        keep = (block.col > r) & (block.data >= np.where(across, SAME_MESSAGE_ACROSS, SAME_MESSAGE))
        rows.append(r[keep])
        cols.append(block.col[keep])
    r, c = np.concatenate(rows), np.concatenate(cols)
    _, labels = connected_components(
        coo_matrix((np.ones(len(r)), (r, c)), shape=(n, n)), directed=False
    )
    return labels.tolist()
