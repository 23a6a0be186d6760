from datetime import date
from pathlib import Path

import pytest
from kn_fixtures import CITIZEN, OFFICER, REVIEWER, write_jsonl

from zhixiang.errors import Conflict, Forbidden, InvalidInput
from zhixiang.knowledge import Library, find_conditions, mask_personal, read_replies
from zhixiang.rules import load_policies

REPLIES = """留言编号,留言用户,留言主题,留言时间,留言详情,答复意见,答复时间,可解释性
101,A001,失业保险金能领多久,2019/4/24 16:03:40,我失业了，电话13812345678，想问失业保险金领取期限最长多久,您好！失业保险金领取期限最长为二十四个月，请到社保经办机构办理。,2019-05-06 10:00:00,1
102,A002,小区噪音扰民,2019/4/25 09:00:00,楼下装修太吵,已转交处理。,2019/5/7 9:00:00,0
"""


@pytest.fixture
def replies(tmp_path: Path) -> Path:
    path = tmp_path / "taidi" / "messages_with_replies.csv"
    path.parent.mkdir()
    path.write_text(REPLIES, "utf-8")
    return path


def test_only_good_replies_become_candidates_and_personal_data_is_masked(replies: Path):
    found = list(read_replies(replies))
    assert [r.source for r in found] == ["taidi:101"]
    assert "13812345678" not in found[0].question and "138****5678" in found[0].question
    assert found[0].answered_on == date(2019, 5, 6)
    assert mask_personal("身份证440106199001011234") == "身份证440106********1234"


def test_candidates_are_served_only_after_approval_and_reviews_are_recorded(
    library: Library, replies: Path
):
    assert library.harvest(read_replies(replies), REVIEWER) == (1, 0)
    assert library.harvest(read_replies(replies), REVIEWER) == (0, 1)
    pending = library.candidates()
    assert len(pending) == 1 and pending[0].clause_ids  # linked to the clause it rests on
    assert not library.ask("失业保险金能领多久？").replies
    with pytest.raises(Forbidden):
        library.review(pending[0].id, True, CITIZEN)
    approved = library.review(pending[0].id, True, REVIEWER, "答复准确")
    assert (approved.status, approved.reviewed_by) == ("approved", "user:wang")
    assert library.ask("失业保险金能领多久？").replies[0].candidate_id == pending[0].id
    with pytest.raises(Conflict, match="已于"):
        library.review(pending[0].id, False, REVIEWER)
    assert library.events(1)[0].action == "approved"


def test_numeric_conditions_follow_the_legal_wording():
    found = {c.words: (c.operator, c.threshold) for c in find_conditions(
        "年满60周岁；年龄在45周岁以下；缴纳社会保险满4年；人均住房建筑面积低于15平方米；"
        "营业收入超过2000万元；不满18周岁；每月2250元；贷款最高500万元；歇业期限最长不得超过3年"
    )}  # fmt: skip
    assert found["年满60周岁"] == (">=", "60周岁")
    assert found["年龄在45周岁以下"] == (
        "<=",
        "45周岁",
    )  # 以下 includes the number (民法典第1259条)
    assert found["缴纳社会保险满4年"] == (">=", "4年")
    assert found["人均住房建筑面积低于15平方米"] == ("<", "15平方米")
    assert found["营业收入超过2000万元"] == (">", "2000万元")
    assert found["不满18周岁"] == ("<", "18周岁")
    assert found["歇业期限最长不得超过3年"] == ("<=", "3年")
    assert not any("2250" in w for w in found)  # an amount without a comparing word is no condition


def test_draft_from_a_clause_is_checked_before_it_is_confirmed(library: Library, tmp_path: Path):
    settle = {"id": "settle", "title": "积分制入户管理办法", "doc_no": "穗府办规〔2025〕8号",
              "issuer": "广州市人民政府办公厅", "publish_date": "2025-06-30",
              "text": "第三条 申请人年龄在45周岁以下，缴纳社会保险满4年，且参加志愿服务满50小时。\n"
                      "第十三条 本办法自印发之日起施行，有效期至2026年12月31日。"}  # fmt: skip
    library.import_path(write_jsonl(tmp_path / "s.jsonl", [settle]), OFFICER)
    clause_id = library.find_clause("穗府办规〔2025〕8号", "第三条")
    with pytest.raises(Forbidden):
        library.draft(clause_id, REVIEWER)
    draft_id, drafted = library.draft(clause_id, OFFICER)
    assert "draft: true" in drafted.yaml and drafted.entity == "person"
    by_words = {c.words: c for c in drafted.conditions}
    assert by_words["年龄在45周岁以下"].when == "出生日期 > today() - 46年"
    assert by_words["缴纳社会保险满4年"].when == "社保缴费月数 >= 48"
    assert by_words["参加志愿服务满50小时"].when is None  # no field: left for the officer
    assert drafted.valid_from == date(2025, 6, 30) and drafted.valid_to == date(2026, 12, 31)
    with pytest.raises(InvalidInput, match="unmapped"):
        library.confirm(draft_id, drafted.yaml, OFFICER)
    edited = drafted.yaml.split("unmapped:")[0]
    with pytest.raises(InvalidInput, match="政策检查未通过"):
        library.confirm(draft_id, edited.replace("社保缴费月数 >=", "社保月数 >="), OFFICER)
    policy = library.confirm(draft_id, edited, OFFICER)
    assert [c.source for c in policy.conditions] == [
        "出生日期 > today() - 46年",
        "社保缴费月数 >= 48",
    ]
    status, final = library.draft_text(draft_id)
    assert status == "confirmed" and "draft:" not in final
    path = tmp_path / "policies" / "p.yaml"
    path.parent.mkdir()
    path.write_text(final, "utf-8")
    assert len(load_policies([path.parent]).policies) == 1
    with pytest.raises(Conflict):
        library.confirm(draft_id, edited, OFFICER)
