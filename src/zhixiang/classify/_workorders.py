"""Second and third category levels and routing to a handling unit (承办单位), on 12345 work orders.

The Beijing 12345 export (shared data `beijing12345/work_orders.csv`) labels each order with a
three-level path (`企业服务->市场管理->营业执照`) and the unit that handled it. The category model
is the same character-n-gram classifier trained on whole paths; a level's prediction adds up the
probabilities of the paths under each prefix, so it is never less sure of 企业服务 than of
企业服务->市场管理. Paths seen once are folded into their parent (a model cannot learn a class
from one example). Routing is two steps, as a dispatcher thinks: is this for the district's
sub-centre (区分中心) or for a city unit (市税务局, 北京移动 …) — learned from the text — and, for a
district, the sub-centre of the reported district (被反映区).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zhixiang.classify._data import MessageFileError, _read_csv
from zhixiang.classify._model import Classifier, train_model

SEPARATOR = "->"
DISTRICT_CENTRE = "区分中心"
CENTRE_SUFFIX = "分中心"  # 朝阳区 → 朝阳区分中心
UNKNOWN_DISTRICT = {"", "不详"}
MANUAL = "人工派单"


@dataclass(frozen=True)
class WorkOrders:
    titles: list[str]
    bodies: list[str]
    paths: list[str]
    units: list[str]
    districts: list[str]


def read_work_orders(path: Path) -> WorkOrders:
    """The rows of a 12345 work-order export that have a title or content, a category path and a unit."""
    path = Path(path)
    frame = _read_csv(path)
    required = ["标题", "主要内容", "问题分类", "承办单位", "被反映区"]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise MessageFileError(f"{path}: 缺少列 {'、'.join(missing)}（需要 {'、'.join(required)}）")
    rows = [
        r
        for r in frame[required].itertuples(index=False)
        if (r[0].strip() or r[1].strip()) and r[2].strip()
    ]
    return WorkOrders(
        titles=[r[0] for r in rows],
        bodies=[r[1] for r in rows],
        paths=[r[2].strip() for r in rows],
        units=[r[3].strip() or MANUAL for r in rows],
        districts=[r[4].strip() for r in rows],
    )


def fold_rare_paths(paths: Sequence[str], minimum: int = 2) -> list[str]:
    """Each path, or its nearest ancestor that ends up with at least `minimum` messages; the top
    level stays even when rare (a class of its own or nothing)."""
    labels = list(paths)
    while True:
        counts = Counter(labels)
        rare = {label for label, n in counts.items() if n < minimum and SEPARATOR in label}
        if not rare:
            return labels
        labels = [label.rsplit(SEPARATOR, 1)[0] if label in rare else label for label in labels]


def _trainable(labels: list[str], minimum: int = 2) -> list[int]:
    counts = Counter(labels)
    return [i for i, label in enumerate(labels) if counts[label] >= minimum]


def predict_levels(
    model: Classifier, titles: Sequence[str], bodies: Sequence[str], levels: int = 3
) -> list[list[tuple[str, float]]]:
    """For each message, the most probable category at each level with its probability."""
    proba = model.probabilities(titles, bodies)
    prefixes = [
        [SEPARATOR.join(label.split(SEPARATOR)[:k]) for label in model.labels]
        for k in range(1, levels + 1)
    ]
    out = []
    for row in proba:
        chosen: list[tuple[str, float]] = []
        for k in range(levels):
            mass: dict[str, float] = {}
            for label, prefix, p in zip(model.labels, prefixes[k], row, strict=True):
                if chosen and not label.startswith(chosen[-1][0]):
                    continue
                if len(label.split(SEPARATOR)) <= k:  # folded into a shallower class
                    continue
                mass[prefix] = mass.get(prefix, 0.0) + float(p)
            if not mass:
                break
            best = max(mass, key=mass.__getitem__)
            chosen.append((best, mass[best]))
        out.append(chosen)
    return out


@dataclass(frozen=True)
class Route:
    unit: str
    confidence: float
    reason: str


class Router:
    """承办单位 from the text (district sub-centre or which city unit) and the reported district."""

    def __init__(self, kind: Classifier, centres: set[str]) -> None:
        self.kind = kind
        self.centres = centres

    def route(
        self, titles: Sequence[str], bodies: Sequence[str], districts: Sequence[str]
    ) -> list[Route]:
        routes = []
        for prediction, district in zip(self.kind.predict(titles, bodies), districts, strict=True):
            if prediction.category != DISTRICT_CENTRE:
                routes.append(
                    Route(prediction.category, prediction.confidence, "按诉求内容派市级单位")
                )
                continue
            centre = f"{district}{CENTRE_SUFFIX}"
            if district not in UNKNOWN_DISTRICT and centre in self.centres:
                routes.append(Route(centre, prediction.confidence, f"属地：{district}"))
            else:
                routes.append(Route(MANUAL, prediction.confidence, "属地不详，需人工派单"))
        return routes


def train_router(titles: Sequence[str], bodies: Sequence[str], units: Sequence[str]) -> Router:
    centres = {u for u in units if u.endswith(DISTRICT_CENTRE)}  # 朝阳区分中心, not 市残联分中心
    kinds = [DISTRICT_CENTRE if u in centres else u for u in units]
    counts = Counter(kinds)
    kinds = [k if counts[k] >= 2 else MANUAL for k in kinds]
    if Counter(kinds)[MANUAL] == 1:  # one rare unit alone: give it a companion class it can share
        kinds = [DISTRICT_CENTRE if k == MANUAL else k for k in kinds]
    return Router(train_model(titles, bodies, kinds, source="12345 工单承办单位"), centres)


def evaluate_work_orders(
    orders: WorkOrders, folds: int = 5, repeats: int = 3, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Stratified CV (by top-level category) of level-1/2/3 accuracy and of routing accuracy,
    with the majority answers as baselines; mean and std over folds."""
    from sklearn.model_selection import RepeatedStratifiedKFold

    top = [p.split(SEPARATOR)[0] for p in orders.paths]
    counts = Counter(top)
    strata = [t if counts[t] >= folds else "其他" for t in top]
    splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    figures: dict[str, list[float]] = {}
    n = len(orders.paths)
    pick = lambda seq, idx: [seq[i] for i in idx]  # noqa: E731
    for train, test in splitter.split(np.zeros(n), strata):
        folded = fold_rare_paths(pick(orders.paths, train))
        usable = [train[i] for i in _trainable(folded)]  # a top level seen once cannot be learned
        model = train_model(
            pick(orders.titles, usable),
            pick(orders.bodies, usable),
            fold_rare_paths(pick(orders.paths, usable)),
        )
        levels = predict_levels(model, pick(orders.titles, test), pick(orders.bodies, test))
        truth = pick(orders.paths, test)
        for k in range(3):
            right = []
            for chosen, path in zip(levels, truth, strict=True):
                parts = path.split(SEPARATOR)
                if len(parts) <= k:
                    continue
                expected = SEPARATOR.join(parts[: k + 1])
                right.append(len(chosen) > k and chosen[k][0] == expected)
            figures.setdefault(f"level{k + 1}_accuracy", []).append(float(np.mean(right)))
            train_prefix = Counter(
                SEPARATOR.join(p.split(SEPARATOR)[: k + 1]) for p in pick(orders.paths, train)
            )
            majority = train_prefix.most_common(1)[0][0]
            figures.setdefault(f"level{k + 1}_majority", []).append(
                float(
                    np.mean(
                        [SEPARATOR.join(p.split(SEPARATOR)[: k + 1]) == majority for p in truth]
                    )
                )
            )
        router = train_router(
            pick(orders.titles, train), pick(orders.bodies, train), pick(orders.units, train)
        )
        routes = router.route(
            pick(orders.titles, test), pick(orders.bodies, test), pick(orders.districts, test)
        )
        units = pick(orders.units, test)
        figures.setdefault("routing_accuracy", []).append(
            float(np.mean([r.unit == u for r, u in zip(routes, units, strict=True)]))
        )
        figures.setdefault("routing_manual_share", []).append(
            float(np.mean([r.unit == MANUAL for r in routes]))
        )
        majority_unit = Counter(pick(orders.units, train)).most_common(1)[0][0]
        figures.setdefault("routing_majority", []).append(
            float(np.mean([u == majority_unit for u in units]))
        )
        rule = [f"{d}{CENTRE_SUFFIX}" for d in pick(orders.districts, test)]
        figures.setdefault("routing_district_rule", []).append(
            float(np.mean([r == u for r, u in zip(rule, units, strict=True)]))
        )
    return {
        k: {"mean": round(float(np.mean(v)), 4), "std": round(float(np.std(v)), 4)}
        for k, v in figures.items()
    }
