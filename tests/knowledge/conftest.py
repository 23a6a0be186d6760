"""Fixtures: a JSON-lines file of small real-shaped documents and a library holding them."""

from __future__ import annotations

from pathlib import Path

import pytest
from kn_fixtures import DOCUMENTS, OFFICER, write_jsonl

from zhixiang.knowledge import Library


@pytest.fixture
def documents_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "documents.jsonl", DOCUMENTS)


@pytest.fixture
def library(tmp_path: Path, documents_file: Path) -> Library:
    lib = Library(f"sqlite:///{tmp_path / 'knowledge.db'}", tmp_path / "index")
    lib.migrate()
    report = lib.import_path(documents_file, OFFICER)
    assert len(report.added) == len(DOCUMENTS), report.problems
    return lib
