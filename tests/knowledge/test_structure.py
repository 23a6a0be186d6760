from kn_fixtures import HOUSING, UNEMPLOYMENT

from zhixiang.knowledge import parse_structure


def test_regulation_is_cut_into_articles_with_their_items():
    s = parse_structure(HOUSING)
    labels = [p.label for p in s.passages]
    assert labels[0] == "序言第1段"
    assert "第二十二条" in labels and "第五十四条" in labels
    art22 = next(p for p in s.passages if p.label == "第二十二条")
    assert "（三）在本市无自有产权住房" in art22.text  # items stay inside their article
    assert art22.context == "第三章 申请与准入"
    chapter = s.root.children[0]
    assert chapter.kind == "chapter" and chapter.heading == "总则"


def test_faq_notice_is_cut_into_its_numbered_questions():
    s = parse_structure(UNEMPLOYMENT)
    assert [p.label for p in s.passages] == ["一、", "二、", "三、"]
    assert s.passages[2].text.startswith("三、失业保险金能领多久？")


def test_numbers_that_do_not_continue_the_sequence_are_text():
    text = "一、分配对象\n（一）家庭保障人口为3人户及以上；\n1.3人户家庭；\n2.2人户中2人均年满18周岁；\n2025年3月27日前提交申请。\n5.这一行跳号，不是新的一项"
    s = parse_structure(text)
    nodes = [n for n in s.root.walk() if n.kind == "subitem"]
    assert [n.number for n in nodes] == ["1.", "2."]
    assert "2025年3月27日前提交申请。" in nodes[1].lines
    assert "5.这一行跳号，不是新的一项" in nodes[1].lines


def test_long_notice_sections_are_split_into_their_parts():
    body = "申请材料包括身份证明、户籍证明和收入证明。" * 20
    text = f"一、办理流程\n（一）网上申请\n{body}\n（二）现场核验\n{body}"
    labels = [p.label for p in parse_structure(text).passages]
    assert labels == ["一、", "一、（一）", "一、（二）"]


def test_text_without_numbering_becomes_paragraphs_and_says_so():
    s = parse_structure("广东多项医保新措1月1日起实施。\n大病保险无需单独缴费。")
    assert not s.structured
    assert [p.label for p in s.passages] == ["第1段"]


def test_markdown_headings_and_inserted_articles():
    s = parse_structure(
        "## 第一章 总则\n第一条 为了规范。\n第一条之一 新增的一条。\n第二条 适用本法。"
    )
    assert [p.label for p in s.passages] == ["第一条", "第一条之一", "第二条"]
