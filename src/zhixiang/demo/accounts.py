"""Demo accounts: one person for each staff role and an enterprise's portal account, ready to sign in.

The passwords are generated once and kept in `<home>/demo-accounts.json` (readable by its owner
only), so running the demo again keeps them and the web login page can show them as a hint. Only
for demonstrations: a real deployment creates its accounts with `zhixiang access users create`.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from zhixiang.access import AccessStore, Principal, Role
from zhixiang.errors import NotFound

RECORD = "demo-accounts.json"
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off a screen and typed


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    role: Role
    department: str | None
    duty: str


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    display_name: str
    role: str
    department: str | None
    subject: str | None
    duty: str


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("demo-agent", "演示坐席 王敏", Role.AGENT, "center", "登记诉求、派单、回访"),
    DemoAccount(
        "demo-handler",
        "演示办理人 李强",
        Role.HANDLER,
        "city-housing",
        "市建设局：签收、办理、办结",
    ),
    DemoAccount(
        "demo-policy",
        "演示政策管理员 陈静",
        Role.POLICY_ADMIN,
        "city-science",
        "政策检查、批量匹配",
    ),
    DemoAccount(
        "demo-reviewer", "演示审核员 刘洋", Role.REVIEWER, "city-science", "审核匹配名单与兑现"
    ),
    DemoAccount(
        "demo-data", "演示数据管理员 黄磊", Role.DATA_OFFICER, "city-data", "数据导入、质量、授权"
    ),
    DemoAccount("demo-leader", "演示领导 周华", Role.LEADER, "xm", "只读：指标、汇总、质量"),
    DemoAccount(
        "demo-admin", "演示系统管理员 吴刚", Role.SYSADMIN, "city-data", "账号、角色与密钥"
    ),
)
ENTERPRISE_ACCOUNT = "demo-enterprise"


def _password() -> str:
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))


def _read(path: Path) -> dict[str, str]:
    try:
        return {e["username"]: e["password"] for e in json.loads(path.read_text("utf-8"))}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def ensure_demo_accounts(
    store: AccessStore, by: Principal, enterprise: str, home: Path
) -> list[DemoLogin]:
    """Create the demo accounts, or bring existing ones back to their demo roles and passwords.

    `enterprise` is the 统一社会信用代码 the portal account speaks for (one of the demo's
    enterprises). Running it twice gives the same accounts and the same passwords.
    """
    record = home / RECORD
    known = _read(record)
    wanted: list[tuple[str, str, Role, str | None, str | None, str]] = [
        (a.username, a.display_name, a.role, a.department, None, a.duty) for a in DEMO_ACCOUNTS
    ]
    wanted.append(
        (
            ENTERPRISE_ACCOUNT,
            "演示企业用户",
            Role.ENTERPRISE,
            None,
            enterprise,
            "企业门户：本企业的政策",
        )
    )
    logins = []
    for username, name, role, department, subject, duty in wanted:
        password = known.get(username) or _password()
        try:
            store.get_user(username)
        except NotFound:
            store.create_user(
                by,
                username,
                password,
                [role],
                display_name=name,
                department=department,
                subject=subject,
            )
        else:
            store.set_roles(by, username, [role], department)
            store.set_password(by, username, password)
            store.enable_user(by, username)
        logins.append(DemoLogin(username, password, name, role.value, department, subject, duty))
    home.mkdir(parents=True, exist_ok=True)
    record.write_text(
        json.dumps([asdict(x) for x in logins], ensure_ascii=False, indent=2), "utf-8"
    )
    os.chmod(record, 0o600)
    return logins
