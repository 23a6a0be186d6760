"""Real data from the shared folder (skipped, saying so, when it is absent) and small made-up files."""

from __future__ import annotations

from pathlib import Path

import pytest

from zhixiang.config import load_settings

TAIDI = load_settings().shared_data_dir / "taidi2020"


def shared_file(name: str) -> Path:
    path = TAIDI / name
    if not path.is_file():
        pytest.skip(f"real data absent: {path} (set ZHIXIANG_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def votes_file() -> Path:
    return shared_file("messages_with_votes.csv")


@pytest.fixture(scope="session")
def replies_file() -> Path:
    return shared_file("messages_with_replies.csv")
