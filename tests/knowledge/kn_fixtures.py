"""Small real-shaped policy texts, in the style of the Guangzhou documents, for the knowledge tests."""

from __future__ import annotations

import json
from pathlib import Path

from zhixiang.access import Principal, PrincipalKind, Role

OFFICER = Principal(PrincipalKind.USER, "li", "李科长", frozenset({Role.POLICY_ADMIN}))
REVIEWER = Principal(PrincipalKind.USER, "wang", "王审核", frozenset({Role.REVIEWER}))
CITIZEN = Principal(PrincipalKind.USER, "c1", "市民", frozenset({Role.CITIZEN}))

HOUSING = """穗府办规〔2024〕13号
广州市公共租赁住房管理办法
第一章 总则
第一条 为完善本市住房保障体系，加强公共租赁住房保障，制定本办法。
第二条 本办法所称的公共租赁住房保障，是指以解决本市城镇户籍中等偏下收入住房困难家庭为主的住房保障制度。
第三章 申请与准入
第二十二条 申请公共租赁住房保障的家庭应当同时符合下列条件：
（一）申请人具有本市城镇户籍；
（二）申请家庭申请之月前12个月家庭收入、家庭财产符合政府公布的标准；
（三）在本市无自有产权住房或人均住房建筑面积低于15平方米。
第二十七条 住房租赁补贴期限为5年。
第五十四条 本办法自印发之日起施行，有效期5年。《广州市公共租赁住房保障办法》（穗府办规〔2016〕9号）同时废止。"""

HOUSING_OLD = """穗府办规〔2016〕9号
广州市公共租赁住房保障办法
第一条 为规范公共租赁住房保障工作，制定本办法。
第二十条 申请公共租赁住房保障的家庭人均住房建筑面积低于10平方米。"""

UNEMPLOYMENT = """一、领取失业保险金需要符合什么条件？
失业人员同时符合下列条件的，可以领取失业保险金：
（一）失业前用人单位和本人已经缴纳失业保险费累计满一年；
（二）非因本人意愿中断就业的；
（三）已经办理失业登记，并有求职要求的。
二、失业保险金能领到多少钱？
失业保险金按照本市最低工资标准的百分之九十按月计发。目前发放标准为每月2250元。
三、失业保险金能领多久？
失业保险金领取期限最长为二十四个月。"""

LOAN = """一、创业担保贷款最高可以申请多少额度？
符合申请条件的个人创业担保贷款额度最高30万元；小微企业创业担保贷款最高500万元。
二、创业担保贷款的贷款利率是多少？
创业担保贷款利率上限不超过LPR+50BP。"""

RELIEF_EXPIRED = """一、供养标准
特困人员基本生活标准按本市最低生活保障标准的1.6倍确定。
二、本通知自印发之日起施行，有效期5年。"""

DOCUMENTS = [
    {
        "id": "housing",
        "title": "广州市公共租赁住房保障办法",
        "issuer": "广州市人民政府办公厅",
        "doc_no": "穗府办规〔2024〕13号",
        "publish_date": "2024-07-29",
        "source_url": "https://www.gz.gov.cn/example/1",
        "text": HOUSING,
        "kind": "规范性文件",
    },
    {
        "id": "housing-2016",
        "title": "广州市公共租赁住房保障办法（2016）",
        "issuer": "广州市人民政府办公厅",
        "doc_no": "穗府办规〔2016〕9号",
        "publish_date": "2016-03-01",
        "text": HOUSING_OLD,
        "kind": "规范性文件",
    },
    {
        "id": "unemployment",
        "title": "广州市失业保险常见问题解答",
        "issuer": "广州市人力资源和社会保障局",
        "publish_date": "2025-12-05",
        "text": UNEMPLOYMENT,
        "kind": "政务问答",
        "audience": "居民",
    },
    {
        "id": "loan",
        "title": "创业担保贷款常见问题",
        "issuer": "广州市人力资源和社会保障局",
        "publish_date": "2025-11-18",
        "text": LOAN,
        "kind": "政务问答",
        "audience": ["居民", "企业"],
    },
    {
        "id": "relief",
        "title": "广州市人民政府办公厅关于进一步加强特困人员救助供养工作的通知",
        "issuer": "广州市人民政府办公厅",
        "doc_no": "穗府办规〔2021〕7号",
        "publish_date": "2021-04-16",
        "text": RELIEF_EXPIRED,
        "kind": "规范性文件",
        "note": "【页面信息】统一编号 GZ0220210007；实施日期 2021年04月16日；失效日期 2023年06月01日。",
    },
]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", "utf-8")
    return path
