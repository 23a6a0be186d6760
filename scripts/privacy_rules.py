"""Remove each privacy rule of the platform, one at a time, and see which tests notice.

Run by hand (not in CI), from the repository root:

    .venv/bin/python scripts/privacy_rules.py            # every rule
    .venv/bin/python scripts/privacy_rules.py A3 D1      # some
    .venv/bin/python scripts/privacy_rules.py --markdown # the table of docs/access.md §10

For each rule it copies `src/` to a temporary folder, replaces the code that enforces the rule with
code that does not, runs the tests named for it against the copy (PYTHONPATH puts the copy first)
and prints the tests that failed. A rule no test notices is reported as SURVIVED: it needs a test.
A rule whose code is no longer where the list says is reported as MOVED: update the list. The list
is mirrored, with the tests that catch each removal, in docs/access.md ("Privacy rules").
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Rule:
    id: str
    rule: str
    file: str  # under src/zhixiang
    enforced: str  # the code that enforces it …
    removed: str  # … and what it becomes without the rule
    tests: tuple[str, ...]  # where the tests that should notice live


RULES = (
    # -- accounts, sessions, keys, roles (zhixiang.access, api/_auth.py) ---------------------------
    Rule(
        "A1",
        "写操作须带会话的 CSRF 令牌",
        "api/_auth.py",
        "if not secrets.compare_digest(given.encode(), csrf.encode()):",
        "if False:",
        ("tests/api/test_auth.py", "tests/api/test_session_api.py"),
    ),
    Rule(
        "A2",
        "路由按声明的权限放行",
        "api/_auth.py",
        "        principal.require(name)\n",
        "",
        ("tests/api/test_auth.py",),
    ),
    Rule(
        "A3",
        "领导只读",
        "access/_permissions.py",
        '_p("tickets.dispatch", "派单、改派、督办、催办、并单", R.AGENT)',
        '_p("tickets.dispatch", "派单、改派、督办、催办、并单", R.AGENT, R.LEADER)',
        ("tests/access", "tests/api/test_auth.py"),
    ),
    Rule(
        "A4",
        "数据管理员不能查看工单",
        "access/_permissions.py",
        '_p("tickets.read", "查看工单（办理人仅本部门）", R.AGENT, R.HANDLER, R.LEADER)',
        '_p("tickets.read", "查看工单（办理人仅本部门）", R.AGENT, R.HANDLER, R.LEADER, R.DATA_OFFICER)',
        ("tests/access", "tests/api", "tests/tickets"),
    ),
    Rule(
        "A5",
        "办理人只看本部门及下属部门",
        "access/_permissions.py",
        "        if self.citywide:\n            return True\n",
        "        return True\n",
        ("tests/access", "tests/tickets", "tests/api"),
    ),
    Rule(
        "A6",
        "不能修改自己的角色",
        "access/_store.py",
        '            raise Forbidden("不能修改自己的角色，请由另一位管理员操作", "username")\n',
        "            pass\n",
        ("tests/access",),
    ),
    Rule(
        "A7",
        "只有系统管理员能授予系统管理员",
        "access/_store.py",
        "        if Role.SYSADMIN in chosen and not by.has(Role.SYSADMIN):",
        "        if False:",
        ("tests/access",),
    ),
    Rule(
        "A8",
        "口令只存 Argon2 散列",
        "access/_store.py",
        "            password_hash=self.hasher.hash(password),",
        "            password_hash=password,",
        ("tests/access",),
    ),
    Rule(
        "A9",
        "改密码、停用、改角色后会话失效",
        "access/_store.py",
        "    def _end_sessions(self, session: DbSession, username: str) -> None:\n",
        "    def _end_sessions(self, session: DbSession, username: str) -> None:\n        return\n",
        ("tests/access", "tests/api/test_session_api.py"),
    ),
    Rule(
        "A10",
        "登录失败过多暂停",
        "access/_store.py",
        "            self._throttled(session, username, address, now)\n",
        "",
        ("tests/access", "tests/api/test_session_api.py"),
    ),
    Rule(
        "A11",
        "API 密钥只存摘要",
        "access/_store.py",
        "            secret_hash=_digest(secret),",
        "            secret_hash=secret,",
        ("tests/access", "tests/cli/test_access_cli.py"),
    ),
    Rule(
        "A12",
        "过期密钥被拒",
        "access/_store.py",
        "        if row.expires_at <= self.clock():",
        "        if False:",
        ("tests/access",),
    ),
    Rule(
        "A13",
        "吊销的密钥被拒",
        "access/_store.py",
        "        if row is None or row.revoked_at is not None:",
        "        if row is None:",
        ("tests/access", "tests/cli/test_access_cli.py"),
    ),
    Rule(
        "A14",
        "不为系统管理员签发密钥",
        "access/_store.py",
        '            raise InvalidInput("不为系统管理员角色签发 API 密钥", "roles")\n',
        "            pass\n",
        ("tests/access", "tests/cli/test_access_cli.py"),
    ),
    Rule(
        "A15",
        "退出登录后 Cookie 失效",
        "access/_store.py",
        "        if row.ended_at is not None or row.expires_at <= self.clock() or user.disabled_at:",
        "        if row.expires_at <= self.clock() or user.disabled_at:",
        ("tests/access", "tests/api/test_session_api.py", "tests/api/test_auth.py"),
    ),
    Rule(
        "A16",
        "会话 Cookie 为 HttpOnly",
        "api/_auth.py",
        "        httponly=True,\n        secure=secure,",
        "        httponly=False,\n        secure=secure,",
        ("tests/api/test_session_api.py",),
    ),
    # -- data hub: grants, masking, audit, quarantine (zhixiang.datahub, api/data.py) ------------
    Rule(
        "D1",
        "个人信息默认脱敏",
        "datahub/_sharing.py",
        "        if field.sensitivity in PERSONAL and f not in clear:",
        "        if False:",
        ("tests/datahub",),
    ),
    Rule(
        "D2",
        "只返回授权字段（内部与个人字段须授权）",
        "datahub/_sharing.py",
        "    allowed = [f for f in requested if f in granted or f in public]",
        "    allowed = list(requested)",
        ("tests/datahub",),
    ),
    Rule(
        "D3",
        "授权须用途一致",
        "datahub/_sharing.py",
        "if g.entity == entity and g.purpose == purpose.strip() and g.active(today)",
        "if g.entity == entity and g.active(today)",
        ("tests/datahub",),
    ),
    Rule(
        "D4",
        "过期或撤销的授权不再生效",
        "datahub/_sharing.py",
        "if g.entity == entity and g.purpose == purpose.strip() and g.active(today)",
        "if g.entity == entity and g.purpose == purpose.strip()",
        ("tests/datahub",),
    ),
    Rule(
        "D5",
        "读取内部或个人信息先写审计记录",
        "datahub/_sharing.py",
        "    if protected:\n        record = append_audit(",
        "    if False:\n        record = append_audit(",
        ("tests/datahub",),
    ),
    Rule(
        "D6",
        "经 API 查看隔离区时隐去个人信息",
        "api/data.py",
        "quarantine_rows(wh, source, limit, redact_personal=True)",
        "quarantine_rows(wh, source, limit, redact_personal=False)",
        ("tests/datahub/test_dhsec_leaks.py", "tests/datahub/test_dh_cli_api.py"),
    ),
    Rule(
        "D7",
        "只有数据管理员密钥能导入与授权",
        "access/_permissions.py",
        '_p("data.import", "导入部门数据", R.DATA_OFFICER)',
        '_p("data.import", "导入部门数据", R.DATA_OFFICER, R.HANDLER)',
        ("tests/datahub",),
    ),
    # -- tickets: reporters, confidential tickets, department scope (zhixiang.tickets, api/) ---------
    Rule(
        "T1",
        "诉求人姓名脱敏",
        "tickets/_base.py",
        "            reporter_name=None if hide else mask_name(ticket.reporter_name),",
        "            reporter_name=None if hide else ticket.reporter_name,",
        ("tests/tickets", "tests/api/test_open311.py", "tests/api/test_ticket_life.py"),
    ),
    Rule(
        "T2",
        "诉求人联系方式脱敏",
        "tickets/_base.py",
        "                else mask_contact(ticket.reporter_contact)",
        "                else ticket.reporter_contact",
        ("tests/tickets", "tests/api/test_open311.py", "tests/api/test_ticket_life.py"),
    ),
    Rule(
        "T3",
        "保密工单对承办部门隐去诉求人",
        "tickets/_base.py",
        "        hide = principal is not None and not principal.citywide and ticket.confidential",
        "        hide = False",
        ("tests/tickets", "tests/api/test_open311.py", "tests/api/test_ticket_life.py"),
    ),
    Rule(
        "T4",
        "保密工单的公开视图不显示诉求内容",
        "tickets/_privacy.py",
        'description=CONFIDENTIAL_TEXT if hidden else scrub(ticket.body) or "",',
        'description=scrub(ticket.body) or "",',
        ("tests/tickets", "tests/api/test_open311.py"),
    ),
    Rule(
        "T5",
        "保密工单的公开视图不显示地址",
        "tickets/_privacy.py",
        "address=None if hidden else scrub(ticket.address),",
        "address=scrub(ticket.address),",
        ("tests/tickets", "tests/api/test_open311.py"),
    ),
    Rule(
        "T6",
        "保密工单的公开视图不显示经纬度",
        "tickets/_privacy.py",
        "        lat=None if hidden else ticket.lat,",
        "        lat=ticket.lat,",
        ("tests/tickets", "tests/api/test_open311.py"),
    ),
    # -- issue 7, data-hub and policy holes (dhsec) ------------------------------------------------
    Rule(
        "D8",
        "企业账户与工作台政策计算器读内部字段须经授权",
        "matching/_calculator.py",
        '    facts = facts_from_row(load_catalog("enterprise"), rows[0])',
        '    facts = facts_from_row(load_catalog("enterprise"), wh.arrow("SELECT * FROM enterprise'
        ' WHERE credit_code = ?", [credit_code]).to_pylist()[0])',
        ("tests/api/test_dhsec_grant_bypass.py", "tests/web/test_web_privacy.py"),
    ),
    Rule(
        "D9",
        "隔离原因不写个人字段的值（身份证号只留前4后4）",
        "datahub/_validate.py",
        "    if field.sensitivity not in (Sensitivity.PERSONAL, Sensitivity.SENSITIVE_PERSONAL):",
        "    if True:",
        ("tests/datahub/test_dhsec_leaks.py",),
    ),
    Rule(
        "D10",
        "展示隔离原因前再遮盖其中的身份证号与手机号",
        "datahub/_redact.py",
        '            shown["reason"] = redact_text(shown["reason"])',
        "            pass",
        ("tests/datahub/test_dhsec_leaks.py",),
    ),
    Rule(
        "D11",
        "质量报告中个人字段不足5人的计数不显示",
        "datahub/_quality.py",
        "            if suppress_small and field.sensitivity in _PERSONAL:",
        "            if False:",
        ("tests/datahub/test_dhsec_leaks.py",),
    ),
    Rule(
        "D12",
        "审计日志只给本部门数据管理员与系统管理员",
        "api/data.py",
        "    return _rows(audit_log(wh, limit, None if caller.citywide else reader_of(caller)))",
        "    return _rows(audit_log(wh, limit, None))",
        ("tests/datahub/test_dhsec_leaks.py",),
    ),
    Rule(
        "D13",
        "授权清单只给涉及本部门的数据管理员与系统管理员",
        "api/data.py",
        "    return caller.citywide or grant.involves(caller.department)",
        "    return True",
        ("tests/datahub/test_dhsec_leaks.py", "tests/datahub/test_dhsec_grant_duties.py"),
    ),
    Rule(
        "D14",
        "不能为本人或本部门授权（须另一部门的数据管理员）",
        "datahub/_sharing.py",
        "    if by is not None and grantee in (by.id, by.department):",
        "    if False:",
        ("tests/datahub/test_dhsec_grant_duties.py",),
    ),
    Rule(
        "D15",
        "访问日志不记录 key= 等参数的值",
        "api/_limits.py",
        '        (name, "***" if name in SECRET_PARAMS else value)',
        "        (name, value)",
        ("tests/datahub/test_dhsec_leaks.py",),
    ),
    # -- residents: persons, households, their links (catalog, datahub/_links.py; issue 9) ---------
    Rule(
        "R1",
        "居民身份证号默认脱敏",
        "catalog/person.yaml",
        "department: 公安局, sensitivity: sensitive_personal,\n     mask: id_number",
        "department: 公安局, sensitivity: public,\n     mask: id_number",
        ("tests/residents/test_rd_privacy.py",),
    ),
    Rule(
        "R2",
        "居民姓名默认脱敏",
        "catalog/person.yaml",
        "department: 公安局, sensitivity: personal, mask: name}",
        "department: 公安局, sensitivity: public, mask: name}",
        ("tests/residents/test_rd_privacy.py",),
    ),
    Rule(
        "R3",
        "户成员身份证号默认脱敏",
        "catalog/household_member.yaml",
        "sensitivity: sensitive_personal,\n     mask: id_number",
        "sensitivity: public,\n     mask: id_number",
        ("tests/residents/test_rd_privacy.py",),
    ),
    Rule(
        "R4",
        "隔离原因不显示完整身份证号（孤立关联）",
        "datahub/_links.py",
        'shown = mask_id_number_sql(col) if target == "person" else col',
        "shown = col",
        ("tests/residents/test_rd_import.py",),
    ),
    Rule(
        "R5",
        "隔离原因不显示完整身份证号（同时在两个户）",
        "datahub/_links.py",
        'masked = mask_id_number_sql("r.id_number")',
        'masked = "r.id_number"',
        ("tests/residents/test_rd_import.py",),
    ),
    Rule(
        "R6",
        "隔离原因不显示完整身份证号（主键重复）",
        "datahub/_validate.py",
        '_echo(catalog[catalog.keys[0]], "d.k")',
        "\" || ': ' || d.k\"",
        ("tests/residents/test_rd_import.py",),
    ),
    Rule(
        "R7",
        "居民政策说明（explain、/residents）默认脱敏姓名与身份证号，明文须有明文授权",
        "matching/_household.py",
        "        if self.clear:",
        "        if True:",
        ("tests/residents/test_rr_explain.py",),
    ),
    Rule(
        "R8",
        "查看一户居民的政策说明按政策逐项记入审计（用途为该政策）",
        "matching/_household.py",
        "            audit(policy, _fields_read(policy), len(members))",
        "            pass",
        ("tests/residents/test_rr_explain.py",),
    ),
    Rule(
        "D16",
        "工作台数据质量页对个人字段少于5人的计数不予显示（与接口一致）",
        "web/_data.py",
        "        report = quality_report(wh, None, suppress_small=True)",
        "        report = quality_report(wh, None)",
        ("tests/datahub/test_dhsec_leaks.py",),
    ),
    Rule(
        "D17",
        "审计记录以审计密钥的 HMAC 标识主体，不用可穷举反推的普通哈希",
        "datahub/_sharing.py",
        '    mac = hmac.new(secret, b"zhixiang-entity:" + key.encode("utf-8"), hashlib.sha256)',
        '    mac = hashlib.sha256(key.encode("utf-8"))',
        ("tests/api/test_dhsec_grant_bypass.py",),
    ),
    Rule(
        "D18",
        "主体查阅本主体数据也写审计记录（以审计密钥的 HMAC 标识主体）",
        "datahub/_sharing.py",
        '    record = append_audit(\n        wh,\n        actor=f"{entity_digest(key)} via {via}",',
        "    record = (lambda **_: type('R', (), {'seq': None})())(\n        wh=wh,",
        ("tests/datahub/test_webportal_own_record.py", "tests/web/test_webportal_qiye.py"),
    ),
    Rule(
        "D19",
        "主体查阅本主体数据只读到本主体这一行",
        "datahub/_sharing.py",
        '        f"WHERE {quote(catalog.key)} = ? LIMIT 1",\n        [key],',
        '        "",\n        [],',
        ("tests/datahub/test_webportal_own_record.py",),
    ),
    Rule(
        "D20",
        "企业账户的我的政策只读会话所属企业的数据（地址栏参数无效）",
        "web/_enterprise.py",
        'read_own_record(wh, "enterprise", user.subject, via=f"web:{user.id}")',
        'read_own_record(wh, "enterprise", request.query_params.get("code") or user.subject, via=f"web:{user.id}")',
        ("tests/web/test_webportal_qiye.py",),
    ),
)


def _failed(output: str) -> list[str]:
    return sorted({m.group(1) for m in re.finditer(r"^(?:FAILED|ERROR) (\S+)", output, re.M)})


def check(rule: Rule, scratch: Path) -> tuple[str, list[str]]:
    source = scratch / "src"
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(ROOT / "src", source, ignore=shutil.ignore_patterns("__pycache__"))
    target = source / "zhixiang" / rule.file
    text = target.read_text("utf-8")
    if text.count(rule.enforced) != 1:
        return "MOVED", []
    target.write_text(text.replace(rule.enforced, rule.removed), "utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rfE",
            "-p",
            "no:cacheprovider",
            "-n",
            "2",
            # the doc's list of rules is checked elsewhere; it says nothing about the rule removed
            "--deselect",
            "tests/access/test_access_docs.py::test_every_privacy_rule_checked_by_the_script_is_listed_in_the_doc",
            "--ignore",
            "tests/api/test_api_fuzz.py",
            *rule.tests,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(source)},
        capture_output=True,
        text=True,
    )
    failed = _failed(done.stdout)
    if done.returncode not in (0, 1) or any("::" not in name for name in failed):
        return f"ERROR (pytest exit {done.returncode}: the mutation broke the code)", failed
    return ("CAUGHT" if failed else "SURVIVED"), failed


def main(wanted: list[str]) -> int:
    markdown = "--markdown" in wanted
    wanted = [w for w in wanted if w != "--markdown"]
    survived = 0
    if markdown:
        print("| rule | 规则 | enforced in | without it | tests that fail |")
        print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="zx-privacy-") as folder:
        for rule in RULES:
            if wanted and rule.id not in wanted:
                continue
            verdict, failed = check(rule, Path(folder))
            survived += verdict != "CAUGHT"
            if markdown:
                names = "<br>".join(f"`{n.split('/')[-1]}`" for n in failed[:4])
                more = f"<br>… {len(failed) - 4} more" if len(failed) > 4 else ""
                print(f"| {rule.id} | {rule.rule} | `{rule.file}` | {verdict} | {names}{more} |")
                continue
            print(f"{rule.id:4} {verdict:9} {rule.rule}  ({rule.file})", flush=True)
            for name in failed[:6]:
                print(f"       {name}")
            if len(failed) > 6:
                print(f"       … and {len(failed) - 6} more")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
