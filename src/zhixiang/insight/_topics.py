"""Hot topics (热点问题挖掘): messages about the same problem at the same place, ranked by heat.

Grouping: two messages are alike by the cosine of their character n-gram TF-IDF vectors (title and
the head of the body), raised by `place_bonus` when they name the same place and lowered by
never linked when they name different districts; groups are cut from the similarity graph by
average linkage, so one loose link cannot chain two problems together.

Heat (热度指数), for a group of n messages from u distinct reporters with L likes and O objections,
whose last message is `age` days before the reference day and with r messages in the last
`window` days before it against e in the `window` before that:

    heat = 10 × [ln(1+u) + 0.5·ln(1+n−u) + 0.5·ln(1+L) + 0.25·ln(1+O)] × recency × growth
    recency = 0.5 + 0.5·exp(−age / 30)             (a quiet topic keeps half its weight)
    growth  = 1 + 0.5·max(0, (r − e) / (r + e + 1))  (a rising topic counts up to 1.5×)

Reporters weigh more than repeat posts by the same person; likes are support from people who did
not write. docs/insight.md explains it for hotline managers.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from zhixiang.insight._messages import Message
from zhixiang.insight._places import AREA, PlaceIndex, areas, build_index, candidates, common_place
from zhixiang.insight._text import BODY_HEAD, message_text, similar_pairs, tfidf_vectors

#: Who a message speaks for, when most of a group says so.
CROWDS = re.compile(
    r"业主|居民|村民|学生|家长|教师|老师|职工|员工|商户|司机|患者|老人|退休人员|农民工|租户|乘客|购房者"
)
_TITLE_NOISE = re.compile(r"^(关于|反映|投诉|举报|咨询|建议|请问|强烈要求|要求|希望|请求|请)+")


@dataclass(frozen=True)
class TopicSettings:
    """The knobs of grouping and of the heat index (documented in docs/insight.md)."""

    threshold: float = 0.25
    text_threshold: float = 0.45
    problem_threshold: float = 0.15
    place_bonus: float = 0.25
    merge_threshold: float = 0.25
    bucket_cap: int = 500
    min_messages: int = 2
    recency_days: float = 30.0
    growth_window_days: int = 14
    representatives: int = 3
    jobs: int = 2


@dataclass(frozen=True)
class Topic:
    """One hot topic: its heat and what it is, where, when, and which messages."""

    rank: int
    heat: float
    title: str
    place: str
    start: datetime | None
    end: datetime | None
    message_ids: list[str]
    reporters: int
    likes: int
    against: int
    recency: float
    growth: float
    representatives: list[str] = field(default_factory=list)
    weekly: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.message_ids)

    @property
    def time_range(self) -> str:
        if self.start is None or self.end is None:
            return ""
        return f"{self.start:%Y/%m/%d} 至 {self.end:%Y/%m/%d}"

    @property
    def key(self) -> str:
        """A stable name for the topic across runs: place and title (for alerts and dashboards)."""
        return f"{self.place}|{self.title}"


def heat_index(
    messages: Sequence[Message], reference: datetime | None, settings: TopicSettings
) -> tuple[float, float, float]:
    """(heat, recency, growth) of one group, by the formula in this module's docstring."""
    n = len(messages)
    users = {m.user or f"#{m.record}" for m in messages}
    u = len(users)
    likes = sum(m.likes for m in messages)
    against = sum(m.against for m in messages)
    base = (
        math.log1p(u)
        + 0.5 * math.log1p(n - u)
        + 0.5 * math.log1p(likes)
        + 0.25 * math.log1p(against)
    )
    times = [m.time for m in messages if m.time is not None]
    recency = growth = 1.0
    if times and reference is not None:
        age = max(0.0, (reference - max(times)).total_seconds() / 86_400)
        recency = 0.5 + 0.5 * math.exp(-age / settings.recency_days)
        window = timedelta(days=settings.growth_window_days)
        recent = sum(reference - window < t <= reference for t in times)
        earlier = sum(reference - 2 * window < t <= reference - window for t in times)
        growth = 1.0 + 0.5 * max(0.0, (recent - earlier) / (recent + earlier + 1))
    return 10.0 * base * recency * growth, recency, growth


def group_messages(
    messages: Sequence[Message], settings: TopicSettings = TopicSettings()
) -> tuple[list[list[int]], PlaceIndex, list[list[str]], Any]:
    """Groups of message positions about one problem at one place; also each message's places
    and the messages' text vectors.

    Two kinds of link: near-identical texts (full cosine ≥ `text_threshold`, e.g. re-posts), and
    messages naming the same place whose *problem* is alike — the cosine with the place names
    masked out (`problem_threshold`), so 丽发新城's noise and 丽发新城's roads stay two topics.
    """
    heads = [f"{m.title} {m.body[:BODY_HEAD]}" for m in messages]
    index = build_index(heads)
    places = [index.places(h) for h in heads]
    districts = [{a for a in areas(h) if not a.endswith("市")} for h in heads]
    texts = [message_text(m.title, m.body) for m in messages]
    full = tfidf_vectors(texts, jobs=settings.jobs)
    problems = tfidf_vectors(
        [_masked(t, p) for t, p in zip(texts, places, strict=True)], jobs=settings.jobs
    )
    weights: dict[tuple[int, int], float] = {}
    rows, cols, sims = similar_pairs(full, settings.text_threshold)
    for i, j, sim in zip(rows.tolist(), cols.tolist(), sims.tolist(), strict=True):
        if not (districts[i] and districts[j] and not districts[i] & districts[j]):
            weights[(i, j)] = sim
    for i, j, sim in _same_place_pairs(places, problems, settings):
        weights[(i, j)] = max(weights.get((i, j), 0.0), sim + settings.place_bonus)
    components = _components(len(messages), list(weights))
    place_sets = [set(p) for p in places]
    groups: list[list[int]] = []
    for component in components:
        groups += _refine(component, full, problems, place_sets, settings)
    return _merge_same_place(groups, problems, places, index, settings), index, places, full


def _same_place_pairs(places, problems, settings):  # type: ignore[no-untyped-def]
    """(i, j, problem cosine) for every pair naming a common place, problem cosine above the
    threshold; pairs come from one sparse product of the message × place incidence matrix and
    their cosines from row-wise products, in chunks, without a Python loop per place."""
    from scipy.sparse import csr_matrix, triu

    buckets: dict[str, list[int]] = {}
    for i, names in enumerate(places):
        for name in names:
            buckets.setdefault(name, []).append(i)
    rows, cols = [], []
    for column, members in enumerate(
        m for m in buckets.values() if 2 <= len(m) <= settings.bucket_cap
    ):
        rows += members
        cols += [column] * len(members)
    if not rows:
        return []
    incidence = csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(places), max(cols) + 1)
    )
    shared = triu(incidence @ incidence.T, k=1).tocoo()
    found = []
    for start in range(0, len(shared.row), 200_000):
        i, j = shared.row[start : start + 200_000], shared.col[start : start + 200_000]
        sims = np.asarray(problems[i].multiply(problems[j]).sum(axis=1)).ravel()
        keep = sims >= settings.problem_threshold
        found += zip(i[keep].tolist(), j[keep].tolist(), sims[keep].tolist(), strict=True)
    return found


def _components(n: int, pairs: list[tuple[int, int]]) -> list[list[int]]:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not pairs:
        return [[i] for i in range(n)]
    edges = np.array(pairs, dtype=np.int64)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    members: dict[int, list[int]] = {}
    for position, label in enumerate(labels.tolist()):
        members.setdefault(label, []).append(position)
    return list(members.values())


def _refine(component, full, problems, place_sets, settings) -> list[list[int]]:  # type: ignore[no-untyped-def]
    """Cut a linked component by average linkage over *all* its pairs, so a chain of loose links
    (one person's thirty different 请加快…建设 posts) falls apart while a real topic holds."""
    if len(component) <= 2:
        return [component]
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    text = (full[component] @ full[component].T).toarray()
    problem = (problems[component] @ problems[component].T).toarray()
    shared = np.array([[bool(place_sets[i] & place_sets[j]) for j in component] for i in component])
    similarity = np.maximum(text, np.where(shared, problem + settings.place_bonus, 0.0))
    distance = 1.0 - np.clip(similarity, 0.0, 1.0)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    cut = fcluster(tree, t=1.0 - settings.threshold, criterion="distance")
    split: dict[int, list[int]] = {}
    for position, label in zip(component, cut.tolist(), strict=True):
        split.setdefault(label, []).append(position)
    return list(split.values())


def _share_a_place(place_sets: Sequence[set[str]]) -> np.ndarray:
    """Which pairs name a common place, as one sparse product rather than a double loop."""
    from scipy.sparse import csr_matrix

    names: dict[str, int] = {}
    rows, cols = [], []
    for row, names_here in enumerate(place_sets):
        for name in names_here:
            rows.append(row)
            cols.append(names.setdefault(name, len(names)))
    if not names:
        return np.zeros((len(place_sets), len(place_sets)), dtype=bool)
    incidence = csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(place_sets), len(names))
    )
    return (incidence @ incidence.T).toarray() > 0


def _masked(text: str, places: Sequence[str]) -> str:
    for name in sorted(places, key=len, reverse=True):
        text = text.replace(name, "□")
    return AREA.sub("□", text)


def _centroids(groups, vectors):  # type: ignore[no-untyped-def]
    """Each group's mean vector, l2-normalised: one sparse product for all groups."""
    from scipy.sparse import csr_matrix
    from sklearn.preprocessing import normalize

    rows = [g for g, group in enumerate(groups) for _ in group]
    cols = [i for group in groups for i in group]
    weights = [1.0 / len(group) for group in groups for _ in group]
    average = csr_matrix((weights, (rows, cols)), shape=(len(groups), vectors.shape[0]))
    if vectors.shape[1] == 0:  # texts with no shared n-gram: nothing to normalise
        return average @ vectors
    return normalize(average @ vectors)


def _merge_same_place(groups, vectors, places, index, settings):  # type: ignore[no-untyped-def]
    """Join groups that share their place and whose centroids are alike: average linkage cuts a
    large topic's differently worded messages (投诉小区附近搅拌站 vs 丽发新城搅拌站扰民) apart."""
    by_place: dict[str, list[int]] = {}
    for g, group in enumerate(groups):
        if len(group) < 2:
            continue
        # 丽发新城小区 also names 丽发新城: count each place with the places inside it
        tally = Counter(
            q
            for i in group
            for q in sorted({q for p in places[i] for q in candidates(p) if q in index.frequency})
        )
        for place, n in tally.items():
            if 2 * n >= len(group):
                by_place.setdefault(place, []).append(g)
    parent = list(range(len(groups)))

    def root(g: int) -> int:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    centroids = _centroids(groups, vectors)
    buckets = [m for m in by_place.values() if 2 <= len(m) <= 50]  # more: a district, not a problem
    pairs = sorted({(a, b) for m in buckets for a in m for b in m if a < b})
    alike: dict[tuple[int, int], float] = {}
    for start in range(0, len(pairs), 200_000):
        chunk = np.array(pairs[start : start + 200_000], dtype=np.int64)
        dots = np.asarray(
            centroids[chunk[:, 0]].multiply(centroids[chunk[:, 1]]).sum(axis=1)
        ).ravel()
        alike.update(zip(map(tuple, chunk.tolist()), dots.tolist(), strict=True))
    for members in buckets:
        # each smaller group joins the most alike larger one, never through a third (no chains)
        for g in members:
            larger = [h for h in members if (len(groups[h]), -h) > (len(groups[g]), -g)]
            if not larger or root(g) != g:
                continue
            best = max(larger, key=lambda h: alike[(min(g, h), max(g, h))])
            if alike[(min(g, best), max(g, best))] >= settings.merge_threshold:
                parent[g] = best
    merged: dict[int, list[int]] = {}
    for g, group in enumerate(groups):
        merged.setdefault(root(g), []).extend(group)
    return list(merged.values())


def find_topics(
    messages: Sequence[Message],
    *,
    top: int | None = None,
    reference: datetime | None = None,
    settings: TopicSettings = TopicSettings(),
) -> list[Topic]:
    """The hot topics of `messages`, hottest first; `reference` (default: the latest message) is "now"."""
    if not messages:
        return []
    groups, index, places, vectors = group_messages(messages, settings)
    times = [m.time for m in messages if m.time is not None]
    reference = reference or (max(times) if times else None)
    topics: list[Topic] = []
    for group in groups:
        if len(group) < settings.min_messages:
            continue
        members = [messages[i] for i in group]
        heat, recency, growth = heat_index(members, reference, settings)
        order = _by_centrality(vectors, group)
        central = [messages[group[i]] for i in order]
        stamps = sorted(m.time for m in members if m.time is not None)
        topics.append(
            Topic(
                rank=0,
                heat=round(heat, 2),
                title=short_title(central[0].title),
                place=_place_label(members, [places[i] for i in group], index),
                start=stamps[0] if stamps else None,
                end=stamps[-1] if stamps else None,
                message_ids=[m.id for m in sorted(members, key=_when)],
                reporters=len({m.user or f"#{m.record}" for m in members}),
                likes=sum(m.likes for m in members),
                against=sum(m.against for m in members),
                recency=round(recency, 3),
                growth=round(growth, 3),
                representatives=[m.title for m in central[: settings.representatives]],
                weekly=_weekly(stamps),
            )
        )
    topics.sort(key=lambda t: (-t.heat, -t.size, t.message_ids[0]))
    ranked = [_with_rank(t, rank) for rank, t in enumerate(topics, start=1)]
    return ranked[:top] if top else ranked


def short_title(title: str) -> str:
    """A message title as a topic name: without the place prefix's verbs and trailing punctuation."""
    text = _TITLE_NOISE.sub("", title.strip()).strip("，。！？!?、 ")
    return text[:40] or title[:40]


def _by_centrality(vectors, group: list[int]) -> list[int]:  # type: ignore[no-untyped-def]
    sub = vectors[group]
    centrality = np.asarray((sub @ sub.T).sum(axis=1)).ravel()
    return list(np.argsort(-centrality, kind="stable"))


def _place_label(
    members: Sequence[Message], places: Sequence[Sequence[str]], index: PlaceIndex
) -> str:
    district_tally = Counter(
        a for m in members for a in dict.fromkeys(areas(f"{m.title} {m.body[:BODY_HEAD]}"))
    )
    districts = [a for a, n in district_tally.most_common() if n * 3 >= len(members)]
    district = next(
        (a for a in districts if not a.endswith("市")), districts[0] if districts else ""
    )
    # titles name the place most cleanly; the bodies' heads are the fallback
    in_titles = [index.places(m.title) for m in members]
    place = common_place(in_titles, index.frequency) or common_place(places, index.frequency) or ""
    crowd_tally = Counter(c for m in members for c in dict.fromkeys(CROWDS.findall(m.text)))
    crowd = [c for c, n in crowd_tally.most_common(1) if n * 2 >= len(members)]
    label = f"{district}{place}"
    return f"{label} {crowd[0]}".strip() if crowd else label


def _weekly(stamps: Sequence[datetime]) -> dict[str, int]:
    weeks = Counter(f"{t.isocalendar().year}-W{t.isocalendar().week:02d}" for t in stamps)
    return dict(sorted(weeks.items()))


def _when(message: Message) -> tuple[datetime, int]:
    return (message.time or datetime.min, message.record)


def _with_rank(topic: Topic, rank: int) -> Topic:
    from dataclasses import replace

    return replace(topic, rank=rank)
