from datetime import date
from pathlib import Path

from kn_fixtures import DOCUMENTS, write_jsonl

from zhixiang.knowledge._sources import complete_metadata, read_file, read_jsonl


def test_dates_and_repealed_numbers_are_read_from_the_text(documents_file: Path):
    drafts = {d.key: complete_metadata(d) for d in read_jsonl(documents_file).drafts}
    housing = drafts["housing"]
    assert housing.effective_on == date(2024, 7, 29)  # 自印发之日起施行
    assert housing.expires_on == date(2029, 7, 28)  # 有效期5年
    assert housing.replaces == ("穗府办规〔2016〕9号",)
    assert housing.region == "广东省广州市"
    relief = drafts["relief"]
    assert relief.expires_on == date(2023, 6, 1)  # the page's 失效日期 wins over 有效期5年
    assert drafts["loan"].audience == ("居民", "企业")


def test_bad_json_lines_are_reported_and_the_rest_kept(tmp_path: Path):
    path = write_jsonl(tmp_path / "d.jsonl", DOCUMENTS[:1])
    path.write_text(path.read_text("utf-8") + '{"title": "缺正文"}\n{broken\n[1, 2]\n', "utf-8")
    batch = read_jsonl(path)
    assert [d.key for d in batch.drafts] == ["housing"]
    messages = [str(p) for p in batch.problems]
    assert any(":2: 缺少必填字段: text" in m for m in messages)
    assert any(":3: 不是有效的 JSON" in m for m in messages)
    assert any(":4: 每行应为一个 JSON 对象" in m for m in messages)


def test_html_main_block_tables_and_broken_markup(tmp_path: Path):
    page = tmp_path / "notice.html"
    page.write_text(
        "<html><head><title>关于受理人才公寓申请的公告</title><script>var x=1;</script></head><body>"
        "<div class='nav'>首页 &gt; 通知公告</div><div id='zoomcon'><p>一、申请条件</p><p>（一）本科及以上学历；"
        "<p>（二）在天河区工作。<table><tr><td>街道</td><td>电话</td></tr><tr><td>兴华街<td>87226560</table>"
        "<div>二、受理时间</div><p>2025年8月11日至9月10日",
        "utf-8",
    )
    batch = read_file(page)
    assert not batch.problems
    draft = batch.drafts[0]
    assert draft.title == "关于受理人才公寓申请的公告"
    assert "var x" not in draft.text and "首页" not in draft.text
    assert "兴华街 | 87226560" in draft.text
    assert "二、受理时间" in draft.text.splitlines()


def test_html_without_text_is_a_problem(tmp_path: Path):
    page = tmp_path / "empty.html"
    page.write_text("<html><body><div id='zoomcon'></div><script>1</script>", "utf-8")
    batch = read_file(page)
    assert not batch.drafts and "找不到正文" in batch.problems[0].message


def test_word_files_are_read(tmp_path: Path):
    import docx

    document = docx.Document()
    document.add_paragraph("广州市老年人优待办法")
    document.add_paragraph("第一条 为了弘扬中华民族敬老传统，制定本办法。")
    document.add_paragraph("第二条 本办法适用于年满60周岁的老年人。")
    path = tmp_path / "优待办法.docx"
    document.save(str(path))
    draft = read_file(path).drafts[0]
    assert draft.title == "广州市老年人优待办法"
    assert "第二条 本办法适用于年满60周岁的老年人。" in draft.text


def test_pdf_without_a_text_layer_is_refused_with_a_reason(tmp_path: Path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    path = tmp_path / "scan.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    batch = read_file(path)
    assert not batch.drafts and "扫描件" in batch.problems[0].message


def test_unknown_file_types_are_reported(tmp_path: Path):
    path = tmp_path / "a.xls"
    path.write_bytes(b"\x00")
    assert "不支持的文件类型" in read_file(path).problems[0].message


def test_gbk_plain_text_and_a_doc_number_line(tmp_path: Path):
    path = tmp_path / "notice.txt"
    path.write_bytes(
        "穗民规字〔2025〕2号\n关于印发最低生活保障标准的通知\n一、低保标准每月1365元。".encode(
            "gb18030"
        )
    )
    draft = complete_metadata(read_file(path).drafts[0])
    assert draft.title == "关于印发最低生活保障标准的通知"
    assert draft.doc_no == "穗民规字〔2025〕2号"
