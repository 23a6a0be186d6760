"""Rebuild the shipped character-pair table used by reply scoring: `python -m zhixiang.insight.tables`.

Counts, over the shared taidi2020 messages and replies, in how many texts each of the 6,000
commonest character pairs occurs; nothing else of the data goes into the package.
"""

from __future__ import annotations

import json

from zhixiang.config import load_settings
from zhixiang.insight._messages import BODY, TITLE, read_table
from zhixiang.insight._replies import BIGRAM_TABLE, bigram_table


def main() -> None:
    base = load_settings().shared_data_dir / "taidi2020"
    texts: list[str] = []
    for name in ("messages_with_replies.csv", "messages_with_votes.csv"):
        table = read_table(base / name, required=[TITLE, BODY])
        texts += [m.text for m in table.messages] + [m.reply for m in table.messages if m.reply]
    counts = bigram_table(texts)
    BIGRAM_TABLE.write_text(
        json.dumps(counts, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
    print(f"{len(texts)} 篇文本 → {len(counts['bigrams'])} 个字符二元组，写入 {BIGRAM_TABLE}")


if __name__ == "__main__":
    main()
