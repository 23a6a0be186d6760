"""Who may do what, in one table: roles, the permissions each capability names, and the caller.

Capabilities name a permission (`"tickets.dispatch"`); the edges (API routes, CLI commands, web
pages) declare the one they need, and `Principal.require` checks it here. Department scoping (a
handler sees only its own department's tickets) is decided by the capability with
`Principal.sees_department`, because only it knows which department a thing belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from zhixiang.access._departments import DepartmentDirectory, load_departments
from zhixiang.errors import Forbidden, Unauthenticated


class Role(StrEnum):
    POLICY_ADMIN = "policy_admin"
    REVIEWER = "reviewer"
    AGENT = "agent"
    HANDLER = "handler"
    DATA_OFFICER = "data_officer"
    LEADER = "leader"
    SYSADMIN = "sysadmin"
    CHANNEL = (
        "channel"  # a machine: an app, a website or an Open311 client that only submits requests
    )
    ENTERPRISE = "enterprise"  # an enterprise's own account in the 企业服务 portal
    CITIZEN = "citizen"  # a resident's own account in the 便民服务 portal


ROLE_LABELS: dict[Role, str] = {
    Role.POLICY_ADMIN: "政策管理员",
    Role.REVIEWER: "审核员",
    Role.AGENT: "坐席",
    Role.HANDLER: "部门办理人",
    Role.DATA_OFFICER: "数据管理员",
    Role.LEADER: "领导（只读）",
    Role.SYSADMIN: "系统管理员",
    Role.CHANNEL: "接入渠道",
    Role.ENTERPRISE: "企业用户",
    Role.CITIZEN: "群众用户",
}

#: Roles whose holders work for the government (staff), as opposed to machines and the public.
STAFF_ROLES = frozenset(
    {
        Role.POLICY_ADMIN,
        Role.REVIEWER,
        Role.AGENT,
        Role.HANDLER,
        Role.DATA_OFFICER,
        Role.LEADER,
        Role.SYSADMIN,
    }
)
#: Roles that work across departments; everyone else is held to their own department (and below).
CITYWIDE_ROLES = frozenset({Role.AGENT, Role.LEADER, Role.SYSADMIN})


@dataclass(frozen=True)
class Permission:
    name: str
    label: str
    roles: frozenset[Role]


def _p(name: str, label: str, *roles: Role) -> tuple[str, Permission]:
    return name, Permission(name, label, frozenset(roles))


R = Role
STAFF = tuple(STAFF_ROLES)
#: Every permission of the platform. An edge that names one not listed here fails at import time.
PERMISSIONS: dict[str, Permission] = dict(
    [
        # 接诉即办
        _p("tickets.intake", "登记诉求", R.AGENT, R.CHANNEL),
        _p("tickets.dispatch", "派单、改派、督办、催办、并单", R.AGENT),
        _p("tickets.follow_up", "回访、重办、归档", R.AGENT),
        _p("tickets.handle", "签收、办理、退单、延期、办结（本部门）", R.HANDLER),
        _p(
            "tickets.act",
            "对工单执行流程动作（各动作另需派单、办理或回访权限）",
            R.AGENT,
            R.HANDLER,
        ),
        _p("tickets.read", "查看工单（办理人仅本部门）", R.AGENT, R.HANDLER, R.LEADER),
        _p("tickets.metrics", "查看三率与时效（办理人仅本部门）", R.AGENT, R.HANDLER, R.LEADER),
        _p("tickets.escalate", "执行超期升级", R.AGENT, R.SYSADMIN),
        _p("tickets.train", "重新训练分类模型", R.SYSADMIN),
        # 主动发现
        _p(
            "insight.read",
            "查看热点问题、预警与答复质量（办理人仅本部门）",
            R.AGENT,
            R.HANDLER,
            R.LEADER,
        ),
        _p("insight.act", "处理预警：生成主动任务（未诉先办）、关闭预警", R.AGENT),
        # 政策找人
        _p("policies.check", "检查政策文件", R.POLICY_ADMIN, R.REVIEWER),
        _p("policies.match", "运行批量匹配", R.POLICY_ADMIN),
        _p("policies.results", "查看匹配名单", R.POLICY_ADMIN, R.REVIEWER),
        _p("policies.summary", "查看匹配汇总", R.POLICY_ADMIN, R.REVIEWER, R.LEADER),
        _p("policies.explain", "用共享数据为单个主体计算政策（受数据授权约束）", *STAFF),
        # 免申即享
        _p("grants.propose", "提出免申即享兑现批次", R.POLICY_ADMIN),
        _p("grants.approve", "审批兑现批次、处理异议（不能审批本人提出的批次）", R.REVIEWER),
        _p(
            "grants.object",
            "对公示中的兑现提出异议（企业仅本单位）",
            R.ENTERPRISE,
            R.CITIZEN,
            R.POLICY_ADMIN,
            R.REVIEWER,
        ),
        _p("grants.export", "导出拨付清单、登记拨付结果、导入收款账户", R.POLICY_ADMIN),
        _p(
            "grants.withdraw",
            "撤回（提出人）或退回（审核员）尚未审批的批次",
            R.POLICY_ADMIN,
            R.REVIEWER,
        ),
        _p("grants.read", "查看兑现批次、台账与看板", R.POLICY_ADMIN, R.REVIEWER, R.LEADER),
        _p(
            "policies.compare",
            "测算政策调整的影响（新旧版本对比）",
            R.POLICY_ADMIN,
            R.REVIEWER,
        ),
        # 智能快审
        _p(
            "review.apply",
            "提交政策申请（企业、群众本人或受理窗口）",
            R.ENTERPRISE,
            R.CITIZEN,
            R.AGENT,
        ),
        _p("review.decide", "审核申请、改变自动审核结论（须写明理由）", R.REVIEWER),
        # 数据按需共享
        _p("data.read", "按授权读取共享数据", *STAFF),
        _p("data.sources", "查看数据源与导入记录", R.DATA_OFFICER, R.SYSADMIN, R.LEADER),
        _p("data.import", "导入部门数据", R.DATA_OFFICER),
        _p("data.quarantine", "查看隔离数据", R.DATA_OFFICER),
        _p("data.quality", "查看数据质量", R.DATA_OFFICER, R.LEADER),
        _p("data.grant", "申请与撤销数据授权", R.DATA_OFFICER),
        _p(
            "data.grant.approve",
            "审批数据授权（不能审批本人提出的或授予本部门的）",
            R.DATA_OFFICER,
            R.SYSADMIN,
        ),
        _p("data.grants.read", "查看全部数据授权", R.DATA_OFFICER, R.SYSADMIN),
        _p("audit.read", "查看审计日志", R.SYSADMIN, R.DATA_OFFICER),
        _p("audit.verify", "校验审计链", R.SYSADMIN, R.DATA_OFFICER),
        # 智能咨询
        _p(
            "knowledge.manage", "导入、更正政策文件，起草与确认政策规则（政策拆解）", R.POLICY_ADMIN
        ),
        _p("knowledge.review", "审核热线答复形成的知识条目", R.POLICY_ADMIN, R.REVIEWER),
        # 账号与密钥
        _p("access.admin", "管理账号、角色与密钥", R.SYSADMIN),
        # 门户
        _p("portal.enterprise", "企业门户（本企业）", R.ENTERPRISE),
        _p("portal.citizen", "便民门户（本人）", R.CITIZEN),
    ]
)


def permission(name: str) -> Permission:
    """The permission called `name`; a name not in the table is a programming error, caught at once."""
    try:
        return PERMISSIONS[name]
    except KeyError:
        raise KeyError(
            f"unknown permission {name!r}; add it to zhixiang.access PERMISSIONS"
        ) from None


class PrincipalKind(StrEnum):
    USER = "user"  # a person signed in with a password (browser session)
    KEY = "key"  # a machine or script with an API key
    OPERATOR = "operator"  # someone at the server's shell running the CLI
    SYSTEM = "system"  # the platform itself (timers, escalation)
    ANONYMOUS = "anonymous"  # the public


@dataclass(frozen=True)
class Principal:
    """Who is calling: kind and id for the record, roles for what they may do, a department for scope.

    `subject` is the enterprise (统一社会信用代码) or person a portal account speaks for.
    """

    kind: PrincipalKind
    id: str
    name: str = ""
    roles: frozenset[Role] = field(default_factory=frozenset)
    department: str | None = None
    subject: str | None = None
    #: The directory the caller's department is in (the access store's); the configured one if None.
    directory: DepartmentDirectory | None = field(default=None, compare=False, repr=False)

    @property
    def actor(self) -> str:
        """How the caller is written in histories and audit records: `user:zhangsan`, `key:ab12cd34`."""
        return f"{self.kind}:{self.id}"

    @property
    def authenticated(self) -> bool:
        return self.kind is not PrincipalKind.ANONYMOUS

    def has(self, role: Role) -> bool:
        return role in self.roles

    def can(self, name: str) -> bool:
        return bool(self.roles & permission(name).roles)

    def require(self, name: str) -> None:
        """Refuse (401 if anonymous, else 403) unless one of the caller's roles grants `name`."""
        if self.can(name):
            return
        wanted = permission(name)
        if not self.authenticated:
            raise Unauthenticated(f"需要登录或 API 密钥（{wanted.label}）", "credentials")
        holders = "、".join(ROLE_LABELS[r] for r in Role if r in wanted.roles)
        raise Forbidden(f"无权{wanted.label}：需要以下角色之一：{holders}", "role")

    @property
    def citywide(self) -> bool:
        return bool(self.roles & CITYWIDE_ROLES)

    def sees_department(self, code: str | None) -> bool:
        """Whether the caller's scope covers things of department `code` (own department or below)."""
        if self.citywide:
            return True
        if self.department is None or code is None:
            return False
        if code == self.department:
            return True
        directory = self.directory or load_departments()
        return code in directory and any(
            d.code == self.department for d in directory.ancestors(code)
        )


ANONYMOUS = Principal(PrincipalKind.ANONYMOUS, "public", "公众")
SYSTEM = Principal(PrincipalKind.SYSTEM, "zhixiang", "系统", frozenset({Role.SYSADMIN, Role.AGENT}))
