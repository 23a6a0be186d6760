"""On the real Guangzhou documents and FAQ pairs of ../shared/data (skipped, saying so, when absent)."""

import csv

import pytest
from kn_fixtures import OFFICER

from zhixiang.config import load_settings
from zhixiang.knowledge import Library

POLICY_TEXTS = load_settings().shared_data_dir / "policy_texts" / "guangzhou"
pytestmark = pytest.mark.skipif(
    not (POLICY_TEXTS / "documents.jsonl").exists(),
    reason=f"real policy texts not found at {POLICY_TEXTS}",
)


@pytest.fixture(scope="module")
def guangzhou(tmp_path_factory: pytest.TempPathFactory) -> Library:
    folder = tmp_path_factory.mktemp("gz")
    lib = Library(f"sqlite:///{folder / 'k.db'}", folder / "index")
    lib.migrate()
    report = lib.import_path(POLICY_TEXTS / "documents.jsonl", OFFICER)
    assert len(report.added) == 37 and not report.rejected
    return lib


def test_the_right_document_is_in_the_top_three_for_nine_in_ten_faq_questions(guangzhou: Library):
    rows = [
        r
        for r in csv.DictReader((POLICY_TEXTS / "faq.csv").open(encoding="utf-8"))
        if r["关联文件"]
    ]
    hits = 0
    for row in rows:
        titles = list(dict.fromkeys(c.title for c, _ in guangzhou.search(row["问题"])))
        hits += row["关联文件"] in titles[:3]
    assert hits / len(rows) >= 0.9


def test_real_versions_and_validity(guangzhou: Library):
    relief = guangzhou.document("穗府办规〔2021〕7号").document
    assert relief.validity == "已于2023-06-01失效"
    assert guangzhou.document("穗民规字〔2025〕2号").document.replaces == ("穗民规字〔2024〕5号",)
    rental = guangzhou.document("doc_1")
    assert [p.label for p in rental.passages].count("第二十二条") == 1 and len(
        rental.passages
    ) == 55
