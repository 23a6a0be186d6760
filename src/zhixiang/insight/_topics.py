"""Hot topics (热点问题挖掘): messages about the same problem at the same place, ranked by heat.

Grouping: two messages are alike by the cosine of their character n-gram TF-IDF vectors (title and
the head of the body), raised by `place_bonus` when they name the same place and lowered by
`area_penalty` when they name different districts; groups are cut from the similarity graph by
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

import numpy as np

from zhixiang.insight._messages import Message
from zhixiang.insight._places import PlaceIndex, areas, build_index, common_place
from zhixiang.insight._text import BODY_HEAD, message_text, similar_pairs, tfidf_vectors

#: Who a message speaks for, when most of a group says so.
CROWDS = re.compile(
    r"业主|居民|村民|学生|家长|教师|老师|职工|员工|商户|司机|患者|老人|退休人员|农民工|租户|乘客|购房者"
)
_TITLE_NOISE = re.compile(r"^(关于|反映|投诉|举报|咨询|建议|请问|强烈要求|要求|希望|请求|请)+")


@dataclass(frozen=True)
class TopicSettings:
    """The knobs of grouping and of the heat index (documented in docs/insight.md)."""

    threshold: float = 0.3
    place_bonus: float = 0.25
    area_penalty: float = 0.15
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
) -> tuple[list[list[int]], PlaceIndex, list[list[str]]]:
    """Groups of message positions about one problem at one place; also each message's places."""
    heads = [f"{m.title} {m.body[:BODY_HEAD]}" for m in messages]
    index = build_index(heads)
    places = [index.places(h) for h in heads]
    districts = [[a for a in areas(h) if not a.endswith("市")] for h in heads]
    vectors = tfidf_vectors([message_text(m.title, m.body) for m in messages], jobs=settings.jobs)
    low = settings.threshold - settings.place_bonus
    rows, cols, sims = similar_pairs(vectors, low)
    sims = sims.astype(np.float64)
    place_sets = [set(p) for p in places]
    area_sets = [set(a) for a in districts]
    for k, (i, j) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        if place_sets[i] & place_sets[j]:
            sims[k] += settings.place_bonus
        elif area_sets[i] and area_sets[j] and not area_sets[i] & area_sets[j]:
            sims[k] -= settings.area_penalty
    keep = sims >= settings.threshold
    groups = _average_linkage(len(messages), rows[keep], cols[keep], sims[keep], settings.threshold)
    return groups, index, places


def _average_linkage(
    n: int, rows: np.ndarray, cols: np.ndarray, sims: np.ndarray, threshold: float
) -> list[list[int]]:
    """Connected components of the graph, each cut by average linkage at `threshold`."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial.distance import squareform

    graph = coo_matrix((sims, (rows, cols)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    members: dict[int, list[int]] = {}
    for position, label in enumerate(labels.tolist()):
        members.setdefault(label, []).append(position)
    groups: list[list[int]] = []
    symmetric = (graph + graph.T).tocsr()
    for component in members.values():
        if len(component) <= 2:
            groups.append(component)
            continue
        sub = symmetric[component][:, component].toarray()
        distance = 1.0 - np.minimum(sub, 1.0)
        np.fill_diagonal(distance, 0.0)
        tree = linkage(squareform(distance, checks=False), method="average")
        cut = fcluster(tree, t=1.0 - threshold, criterion="distance")
        split: dict[int, list[int]] = {}
        for position, label in zip(component, cut.tolist(), strict=True):
            split.setdefault(label, []).append(position)
        groups.extend(split.values())
    return groups


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
    groups, index, places = group_messages(messages, settings)
    times = [m.time for m in messages if m.time is not None]
    reference = reference or (max(times) if times else None)
    vectors = None
    topics: list[Topic] = []
    for group in groups:
        if len(group) < settings.min_messages:
            continue
        members = [messages[i] for i in group]
        heat, recency, growth = heat_index(members, reference, settings)
        if vectors is None:
            vectors = tfidf_vectors(
                [message_text(m.title, m.body) for m in messages], jobs=settings.jobs
            )
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
        a for m in members for a in set(areas(f"{m.title} {m.body[:BODY_HEAD]}"))
    )
    districts = [a for a, n in district_tally.most_common() if n * 3 >= len(members)]
    district = next(
        (a for a in districts if not a.endswith("市")), districts[0] if districts else ""
    )
    # titles name the place most cleanly; the bodies' heads are the fallback
    in_titles = [index.places(m.title) for m in members]
    place = common_place(in_titles, index.frequency) or common_place(places, index.frequency) or ""
    crowd_tally = Counter(c for m in members for c in set(CROWDS.findall(m.text)))
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
