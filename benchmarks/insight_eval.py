"""主动发现 quality on the real board: reply scores against the hand labels, and own reply vs a neighbour's.

    .venv/bin/python benchmarks/insight_eval.py

Reads `taidi2020/messages_with_replies.csv` (2,269 messages with the official reply and the hand label
可解释性, 1 = adequate). Prints the ROC AUC of 质量分 and of its 可解释性 part against the label, and, for
each message, whether its own reply beats the reply written for the most similar other message (TF-IDF
cosine over title and body) on relevance and on the total score. Deterministic: one run is the figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from zhixiang.config import load_settings
from zhixiang.insight import ReplyScorer, read_table
from zhixiang.insight._text import message_text, tfidf_vectors


def main() -> None:
    path = load_settings().shared_data_dir / "taidi2020" / "messages_with_replies.csv"
    table = read_table(path, required=["留言主题", "留言详情", "答复意见"])
    labels = pd.read_csv(path, dtype=str, keep_default_na=False)["可解释性"]
    messages = [m for m in table.messages if m.reply]
    truth = [int(labels[m.record - 1]) for m in messages]
    scorer = ReplyScorer()
    own = [scorer.score(m.title, m.body, m.reply, m.time, m.reply_time) for m in messages]
    print(f"{len(messages)} 条答复, 可解释性=1: {sum(truth)}, =0: {len(truth) - sum(truth)}")
    print(
        f"ROC AUC 质量分 {roc_auc_score(truth, [s.total for s in own]):.3f}, "
        f"可解释性 {roc_auc_score(truth, [s.explanation for s in own]):.3f}"
    )
    vectors = tfidf_vectors([message_text(m.title, m.body) for m in messages])
    similar = (vectors @ vectors.T).toarray()
    np.fill_diagonal(similar, -1.0)
    relevance_wins = total_wins = 0
    for i, j in enumerate(similar.argmax(axis=1)):
        m = messages[i]
        other = scorer.score(m.title, m.body, messages[j].reply, m.time, messages[j].reply_time)
        relevance_wins += own[i].relevance > other.relevance
        total_wins += own[i].total > other.total
    n = len(messages)
    print(
        f"own reply vs the most similar message's reply: more relevant {relevance_wins / n:.1%}, "
        f"higher total {total_wins / n:.1%}"
    )


if __name__ == "__main__":
    main()
