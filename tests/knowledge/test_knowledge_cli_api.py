import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from zhixiang.access import operator
from zhixiang.api import create_app
from zhixiang.cli import app

runner = CliRunner()


@pytest.fixture
def imported(home: Path, documents_file: Path) -> Path:
    result = runner.invoke(app, ["knowledge", "import", str(documents_file)])
    assert result.exit_code == 0, result.output
    assert "新增 5 份" in result.output
    return home


def test_ask_prints_the_clause_and_its_validity(imported: Path):
    result = runner.invoke(app, ["ask", "失业保险金能领多久？"])
    assert result.exit_code == 0, result.output
    assert "《广州市失业保险常见问题解答》三、" in result.output and "现行有效" in result.output
    empty = runner.invoke(app, ["ask", ""])
    assert empty.exit_code == 2 and "问题为空" in empty.output


def test_ask_file_adds_answer_columns(imported: Path, tmp_path: Path):
    questions = tmp_path / "q.csv"
    questions.write_text(
        "编号,问题\n1,失业保险金能领多久？\n2,广州地铁末班车是几点？\n3,\n", "utf-8"
    )
    out = tmp_path / "a.csv"
    result = runner.invoke(
        app, ["knowledge", "ask", "--input", str(questions), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert list(rows[0]) == [
        "编号",
        "问题",
        "回答",
        "引用文件",
        "引用文号",
        "引用条款",
        "引用原文",
        "置信度",
    ]
    assert rows[0]["引用文件"].startswith("《广州市失业保险常见问题解答》") and rows[0][
        "引用条款"
    ].startswith("三、")
    assert rows[0]["引用原文"].startswith("「三、失业保险金能领多久？")
    assert rows[1]["引用文件"] == "无" and rows[1]["回答"].startswith("未找到依据")
    assert rows[2]["引用文件"] == "无" and "问题为空" in rows[2]["回答"]
    bad = tmp_path / "bad.csv"
    bad.write_text("question\nhello\n", "utf-8")
    refused = runner.invoke(app, ["knowledge", "ask", "-i", str(bad), "-o", str(out)])
    assert refused.exit_code == 2 and "没有“问题”列" in refused.output


def test_list_show_draft_and_history(imported: Path, tmp_path: Path):
    listed = runner.invoke(app, ["knowledge", "list", "--search", "公共租赁"])
    assert "穗府办规〔2024〕13号" in listed.output and "已被" in listed.output
    shown = runner.invoke(app, ["knowledge", "show", "穗府办规〔2024〕13号"])
    assert "第二十二条" in shown.output and "废止/取代: 穗府办规〔2016〕9号" in shown.output
    missing = runner.invoke(app, ["knowledge", "show", "穗府办规〔1999〕1号"])
    assert missing.exit_code == 4
    out = tmp_path / "draft.yaml"
    drafted = runner.invoke(app, ["knowledge", "draft", "housing", "第二十二条", "-o", str(out)])
    assert drafted.exit_code == 0, drafted.output and "draft: true" in out.read_text("utf-8")
    assert "import" in runner.invoke(app, ["knowledge", "history"]).output


def test_broken_files_are_reported_and_the_rest_imported(
    home: Path, tmp_path: Path, documents_file: Path
):
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><div", "utf-8")
    result = runner.invoke(app, ["knowledge", "import", str(broken), str(documents_file)])
    assert "未导入" in result.output and "新增 5 份" in result.output


def test_public_ask_endpoint_and_its_limits(imported: Path):
    client = TestClient(create_app())
    answer = client.post("/knowledge/ask", json={"question": "公租房申请要满足什么条件？"}).json()
    assert answer["found"] and answer["citations"][0]["clause"] == "第二十二条"
    assert answer["citations"][0]["doc_no"] == "穗府办规〔2024〕13号"
    assert client.post("/knowledge/ask", json={"question": ""}).status_code == 422
    assert client.post("/knowledge/ask", json={"question": "问" * 2001}).status_code == 413
    assert client.post("/knowledge/ask", json={"question": "问" * 5000}).status_code == 422
    assert (
        client.post("/knowledge/ask", json={"question": "低保", "audience": "学生"}).status_code
        == 422
    )
    assert (
        client.get("/knowledge/documents", params={"search": "失业"}).json()[0]["title"]
        == "广州市失业保险常见问题解答"
    )
    assert client.get("/knowledge/documents/doc-none").status_code == 404


def test_management_routes_need_a_permission(imported: Path):
    app_ = create_app()
    client = TestClient(app_)
    root = operator("root")
    reviewer, _ = app_.state.access.create_key(root, ["reviewer"], label="审核")
    officer, _ = app_.state.access.create_key(root, ["policy_admin"], label="政策管理员")
    assert client.get("/knowledge/candidates").status_code == 401
    assert client.post("/knowledge/drafts", json={"clause_id": 1}).status_code == 401
    client.headers["X-API-Key"] = reviewer
    assert client.get("/knowledge/candidates").status_code == 200
    assert client.post("/knowledge/drafts", json={"clause_id": 1}).status_code == 403
    client.headers["X-API-Key"] = officer
    made = client.post("/knowledge/drafts", json={"clause_id": 4})
    assert made.status_code == 200 and made.json()["yaml"].startswith("# 草稿")
    refused = client.post(
        f"/knowledge/drafts/{made.json()['draft_id']}/confirm", json={"yaml": "id: [unclosed"}
    )
    assert refused.status_code == 422 and "YAML" in refused.json()["detail"]
