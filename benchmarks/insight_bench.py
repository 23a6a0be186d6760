"""主动发现 speed: hot topics over 10k/30k/100k messages on 2 cores, and reply scoring per second.

    .venv/bin/python benchmarks/insight_bench.py [--sizes 10000,30000,100000] [--runs 3]

Messages are the real taidi2020 texts (votes, unlabelled and replies files), re-dated over two
years and moved to other districts (A3区 → A7区 …) so larger sets are not just copies. Every figure
is the median of `--runs` runs after a warm-up, wall and CPU time (CPU includes the worker
processes), with the load average. Agreement: the 2-core run must give the same topics as a
1-core run of the same input (checked at the smallest size). Baseline in the same run: the
similarity search alone (TF-IDF vectors + all pairs above the threshold), the part no grouping
method can skip. Targets: 100,000 messages < 60 s; reply scoring ≥ 200 replies/s.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import statistics
import time
from dataclasses import replace
from datetime import timedelta

from zhixiang.config import load_settings
from zhixiang.insight import Message, ReplyScorer, TopicSettings, find_topics, read_table
from zhixiang.insight._text import message_text, similar_pairs, tfidf_vectors

_AREA = re.compile(r"A([0-9])区")


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def real_messages() -> list[Message]:
    base = load_settings().shared_data_dir / "taidi2020"
    found: list[Message] = []
    for name in ("messages_with_votes.csv", "messages_unlabelled.csv", "messages_with_replies.csv"):
        table = read_table(base / name, required=["留言主题", "留言详情"], needs_time=True)
        found += table.messages
    return found


def synthetic(real: list[Message], size: int, seed: int = 0) -> list[Message]:
    rng = random.Random(seed)
    out = []
    for k in range(size):
        m = real[k % len(real)]
        if k >= len(real):
            step = k // len(real)

            def move(g: re.Match[str], step: int = step) -> str:
                return f"A{(int(g.group(1)) + step) % 10}区"

            shift, body = _AREA.sub(move, m.title), _AREA.sub(move, m.body)
            m = replace(
                m, title=shift, body=body, time=m.time + timedelta(days=rng.randint(0, 700))
            )  # type: ignore[operator]
        out.append(replace(m, record=k + 1, id=str(k + 1), user=f"{m.user}-{k // len(real)}"))
    return out


def timed(fn, runs: int):  # type: ignore[no-untyped-def]
    fn()  # warm-up
    walls, cpus, result = [], [], None
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), cpu()
        result = fn()
        walls.append(time.perf_counter() - started)
        cpus.append(cpu() - started_cpu)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--replies", type=int, default=2000)
    args = parser.parse_args()
    real = real_messages()
    print(f"真实留言 {len(real)} 条; {os.cpu_count()} 核; 负载 {load()}")
    settings = TopicSettings(jobs=2)
    for n, size in enumerate(int(s) for s in args.sizes.split(",")):
        messages = synthetic(real, size)
        if n == 0:
            two = find_topics(messages, settings=settings)
            one = find_topics(messages, settings=replace(settings, jobs=1))
            same = [t.message_ids for t in two] == [t.message_ids for t in one]
            print(
                f"  一致性（2 核 vs 1 核，{size} 条）: {'相同' if same else '不同!'}，{len(two)} 个热点"
            )

        def baseline(messages: list[Message] = messages):  # type: ignore[no-untyped-def]
            vectors = tfidf_vectors([message_text(m.title, m.body) for m in messages], jobs=2)
            return len(similar_pairs(vectors, settings.text_threshold)[0])

        b_wall, b_cpu, pairs = timed(baseline, args.runs)
        wall, cpu_s, topics = timed(
            lambda messages=messages: find_topics(messages, settings=settings), args.runs
        )
        verdict = "达标" if size < 100_000 or wall < 60 else "未达标"
        print(
            f"  {size:>7} 条: 热点 {wall:6.1f} s 墙钟, {cpu_s:6.1f} s CPU; 基线（向量+相似对）"
            f"{b_wall:5.1f} s / {b_cpu:5.1f} s CPU（{pairs} 对）; 比值 {wall / b_wall:.1f}×; "
            f"{len(topics)} 个热点; 负载 {load()} {verdict if size >= 100_000 else ''}"
        )

    replies = [
        m
        for m in read_table(
            load_settings().shared_data_dir / "taidi2020" / "messages_with_replies.csv",
            required=["留言主题", "留言详情", "答复意见"],
        ).messages
        if m.reply
    ]
    batch = (replies * (args.replies // len(replies) + 1))[: args.replies]
    scorer = ReplyScorer()

    def score_all():  # type: ignore[no-untyped-def]
        return [scorer.score(m.title, m.body, m.reply, m.time, m.reply_time) for m in batch]

    def cosine_baseline():  # type: ignore[no-untyped-def]
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import normalize

        vec = TfidfVectorizer(analyzer="char", ngram_range=(2, 2)).fit(
            [m.text for m in batch] + [m.reply for m in batch]
        )
        a, b = (
            normalize(vec.transform([m.text for m in batch])),
            normalize(vec.transform([m.reply for m in batch])),
        )
        return a.multiply(b).sum(axis=1)

    wall, cpu_s, _ = timed(score_all, args.runs)
    b_wall, _, _ = timed(cosine_baseline, args.runs)
    rate = len(batch) / cpu_s
    print(
        f"  答复评分 {len(batch)} 条: {len(batch) / wall:,.0f} 条/s 墙钟, {rate:,.0f} 条/s CPU; "
        f"基线（仅字符二元组余弦，sklearn）{len(batch) / b_wall:,.0f} 条/s; "
        f"目标 ≥ 200 条/s: {'达标' if rate >= 200 else '未达标'}; 负载 {load()}"
    )


if __name__ == "__main__":
    main()
