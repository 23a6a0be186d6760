"""`zhixiang access …`: departments, staff and portal accounts, API keys — for the administrator.

Whoever runs these commands at the server's shell acts as `operator:<os user>`, and every account
and key records who made it. Passwords are asked for without echo, or read from standard input with
`--password-stdin`; they never appear on the command line. Nothing heavy is imported until a
command runs, so `zhixiang --help` stays fast.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from zhixiang.cli._console import console

if TYPE_CHECKING:
    from zhixiang.access import AccessStore, Principal, Role

access_app = typer.Typer(
    help="账号与权限：部门目录、工作人员与门户账号、API 密钥。", no_args_is_help=True
)
departments_app = typer.Typer(help="部门目录：查看、查找、检查目录文件。", no_args_is_help=True)
users_app = typer.Typer(help="账号：新建、查看、改角色、改密码、停用、恢复。", no_args_is_help=True)
keys_app = typer.Typer(help="API 密钥（给其他系统用）：签发、查看、吊销。", no_args_is_help=True)
access_app.add_typer(departments_app, name="departments")
access_app.add_typer(users_app, name="users")
access_app.add_typer(keys_app, name="keys")

ROLES_HELP = (
    "角色，可重复：policy_admin 政策管理员、reviewer 审核员、agent 坐席、handler 部门办理人、"
    "data_officer 数据管理员、leader 领导（只读）、sysadmin 系统管理员、channel 接入渠道（仅密钥）、"
    "enterprise 企业用户、citizen 群众用户（仅账号）"
)
Roles = Annotated[list[str], typer.Option("--role", "-r", help=ROLES_HELP)]
Department = Annotated[
    str | None, typer.Option(help="所属部门：编号、全称或简称（见 departments list）")
]
AsJson = Annotated[bool, typer.Option("--json", help="输出 JSON")]
T = TypeVar("T")


def _run(action: Callable[[], T]) -> T:
    """Run a store call; a refusal prints its message (in Chinese) and exits with its code."""
    from zhixiang.errors import ZhixiangError

    try:
        return action()
    except ZhixiangError as exc:
        where = f"[{exc.field}] " if exc.field else ""
        console.print(f"[red]错误:[/red] {escape(where + exc.message)}")
        raise typer.Exit(exc.exit_code) from None


def _me() -> Principal:
    from zhixiang.access import operator

    return operator(getpass.getuser())


def _store() -> AccessStore:
    from zhixiang.access import open_access

    return _run(open_access)


def _password(from_stdin: bool, prompt: str = "新密码") -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            console.print("[red]错误:[/red] 标准输入中没有密码")
            raise typer.Exit(2)
        return line
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=True)


def _when(moment: object) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


# -- departments -------------------------------------------------------------------------------------


@departments_app.command("list")
def departments_list(as_json: AsJson = False) -> None:
    """列出部门目录中的全部部门：编号、名称、类型、上级、区划、简称。"""
    from zhixiang.access import load_departments

    directory = _run(load_departments)
    if as_json:
        rows = [
            {
                "code": d.code,
                "name": d.name,
                "kind": d.kind.value,
                "parent": d.parent,
                "region": d.region,
                "aliases": list(d.aliases),
            }
            for d in directory
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(
        "编号", "名称", "类型", "上级", "区划", "简称", title=f"部门目录（{directory.source}）"
    )
    for d in directory:
        table.add_row(
            d.code, d.name, d.kind.value, d.parent or "", d.region or "", "、".join(d.aliases)
        )
    console.print(table)


@departments_app.command("show")
def departments_show(
    name: Annotated[str, typer.Argument(help="部门编号、全称或简称，如 人社局")],
) -> None:
    """查找一个部门：任何一种写法都对应同一个编号；显示上级与下属。"""
    from zhixiang.access import load_departments

    directory = _run(load_departments)
    found = _run(lambda: directory.resolve(name))
    console.print(f"{found.code}  {found.name}（{found.kind.value}）")
    if found.aliases:
        console.print(f"简称: {'、'.join(found.aliases)}")
    if found.region:
        console.print(f"行政区划: {found.region}")
    above = " → ".join(f"{d.name}({d.code})" for d in directory.ancestors(found.code))
    console.print(f"上级: {above or '无'}")
    below = directory.descendants(found.code)
    console.print(f"下属: {'、'.join(f'{d.name}({d.code})' for d in below) or '无'}")


@departments_app.command("check")
def departments_check(
    file: Annotated[Path, typer.Argument(help="要检查的部门目录文件（YAML）")],
) -> None:
    """检查部门目录文件：编号、名称、上级、区划逐项核对，错误指明第几项哪个字段。"""
    from zhixiang.access import parse_departments

    try:
        text = file.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        console.print(f"[red]错误:[/red] 无法读取 {escape(str(file))}: {escape(str(exc))}")
        raise typer.Exit(2) from None
    directory = _run(lambda: parse_departments(text, str(file)))
    console.print(f"{escape(str(file))}: {len(directory)} 个部门，没有发现问题")
    console.print("启用: 设置 ZHIXIANG_DEPARTMENTS 指向该文件后重启服务")


# -- users ---------------------------------------------------------------------------------------------


@users_app.command("create")
def users_create(
    username: Annotated[
        str, typer.Argument(help="用户名：2–32 位小写字母、数字、点、横线、下划线")
    ],
    role: Roles,
    department: Department = None,
    name: Annotated[str | None, typer.Option(help="显示名称，如 张三")] = None,
    subject: Annotated[
        str | None, typer.Option(help="门户账号代表的企业（统一社会信用代码）或个人（身份证号）")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="从标准输入读一行作为密码（供脚本使用）")
    ] = False,
) -> None:
    """新建账号；密码提示输入且不回显（至少 10 位，不能含用户名）。"""
    password = _password(password_stdin)
    store = _store()
    user = _run(
        lambda: store.create_user(
            _me(),
            username,
            password,
            role,
            display_name=name,
            department=department,
            subject=subject,
        )
    )
    console.print(
        f"已创建账号 {user.username}（{_labels(user.roles)}"
        f"{'，' + user.department if user.department else ''}）"
    )


@users_app.command("list")
def users_list(as_json: AsJson = False) -> None:
    """列出全部账号：角色、部门、创建人、是否停用（不显示密码）。"""
    users = _store().list_users()
    if as_json:
        rows = [
            {
                "username": u.username,
                "display_name": u.display_name,
                "roles": list(u.roles),
                "department": u.department,
                "subject": u.subject,
                "created_at": u.created_at.isoformat(),
                "created_by": u.created_by,
                "disabled": u.disabled,
            }
            for u in users
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("用户名", "名称", "角色", "部门", "代表主体", "创建 (UTC)", "创建人", "状态")
    for u in users:
        table.add_row(
            u.username,
            u.display_name,
            _labels(u.roles),
            u.department or "",
            u.subject or "",
            _when(u.created_at),
            u.created_by,
            "已停用" if u.disabled else "正常",
        )
    console.print(table)


@users_app.command("roles")
def users_roles(
    username: Annotated[str, typer.Argument(help="用户名")],
    role: Roles,
    department: Annotated[str | None, typer.Option(help="新部门；不写则保持原部门")] = None,
) -> None:
    """改账号的角色（和部门）；该账号的登录会话全部结束。不能改自己的角色。"""
    from zhixiang.access import KEEP

    store = _store()
    user = _run(lambda: store.set_roles(_me(), username, role, department or KEEP))
    console.print(f"{user.username} 现为 {_labels(user.roles)}（{user.department or '无部门'}）")


@users_app.command("password")
def users_password(
    username: Annotated[str, typer.Argument(help="用户名")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="从标准输入读一行作为密码")
    ] = False,
) -> None:
    """重设账号的密码；该账号的登录会话全部结束。"""
    password = _password(password_stdin)
    store = _store()
    _run(lambda: store.set_password(_me(), username, password))
    console.print(f"已重设 {username} 的密码，原有会话已结束")


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="用户名")]) -> None:
    """停用账号：不能再登录，已有会话立即失效（记录保留）。"""
    store = _store()
    _run(lambda: store.disable_user(_me(), username))
    console.print(f"已停用 {username}")


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Argument(help="用户名")]) -> None:
    """恢复已停用的账号。"""
    store = _store()
    _run(lambda: store.enable_user(_me(), username))
    console.print(f"已恢复 {username}")


# -- keys ----------------------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    role: Roles,
    label: Annotated[str, typer.Option(help="用途或使用系统，如 i厦门App、人社局业务系统")],
    department: Department = None,
    days: Annotated[int, typer.Option(help="有效天数（1–1098）")] = 365,
) -> None:
    """签发 API 密钥：密钥只显示这一次，库中只存其摘要；到期自动失效。"""
    store = _store()
    secret, key = _run(
        lambda: store.create_key(_me(), role, label=label, department=department, valid_days=days)
    )
    console.print(
        f"密钥 {key.id}（{_labels(key.roles)}{'，' + key.department if key.department else ''}，"
        f"{key.expires_at:%Y-%m-%d} 到期）已签发。请立即交给使用方，之后无法再显示："
    )
    typer.echo(secret)


@keys_app.command("list")
def keys_list(as_json: AsJson = False) -> None:
    """列出全部密钥：编号、角色、部门、用途、有效期、状态（不显示密钥本身）。"""
    keys = _store().list_keys()
    if as_json:
        rows = [
            {
                "id": k.id,
                "label": k.label,
                "roles": list(k.roles),
                "department": k.department,
                "created_at": k.created_at.isoformat(),
                "created_by": k.created_by,
                "expires_at": k.expires_at.isoformat(),
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
                "active": k.active,
            }
            for k in keys
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("编号", "用途", "角色", "部门", "签发 (UTC)", "签发人", "到期", "状态")
    for k in keys:
        state = (
            "有效" if k.active else ("已吊销 " + _when(k.revoked_at) if k.revoked_at else "已过期")
        )
        table.add_row(
            k.id,
            k.label,
            _labels(k.roles),
            k.department or "",
            _when(k.created_at),
            k.created_by,
            f"{k.expires_at:%Y-%m-%d}",
            state,
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="密钥编号（keys list 中的编号），或泄露的密钥本身")],
) -> None:
    """立即吊销密钥：之后用它的请求一律 401（其他服务进程最迟 5 秒内生效）。"""
    store = _store()
    revoked = _run(lambda: store.revoke_key(_me(), key))
    console.print(f"密钥 {revoked.id}（{escape(revoked.label)}）已吊销")


@access_app.command("roles")
def roles(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="输出 Markdown 表格（docs/access.md 用）")
    ] = False,
) -> None:
    """列出每个角色可以做什么（来自权限表，代码与文档同源）。"""
    if markdown:
        typer.echo(permissions_markdown())
    else:
        console.print(_permissions_table())


def _roles_in_order() -> list[Role]:
    from zhixiang.access import Role

    return list(Role)


def _permission_rows() -> list[tuple[str, str, list[bool]]]:
    from zhixiang.access import PERMISSIONS

    order = _roles_in_order()
    return [(p.name, p.label, [r in p.roles for r in order]) for p in PERMISSIONS.values()]


def permissions_markdown() -> str:
    """The permission table as Markdown: one row per permission, one column per role."""
    from zhixiang.access import ROLE_LABELS

    order = _roles_in_order()
    head = ["权限", "说明", *(f"{ROLE_LABELS[r]}<br>`{r}`" for r in order)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, label, holds in _permission_rows():
        marks = ["✓" if held else "" for held in holds]
        lines.append("| " + " | ".join([f"`{name}`", label, *marks]) + " |")
    return "\n".join(lines)


def _permissions_table() -> Table:
    from zhixiang.access import ROLE_LABELS

    table = Table("权限", "说明", *(ROLE_LABELS[r] for r in _roles_in_order()), title="角色与权限")
    for name, label, holds in _permission_rows():
        table.add_row(name, label, *("✓" if held else "" for held in holds))
    return table


# -- demo ----------------------------------------------------------------------------------------------


@access_app.command("demo-users")
def demo_users(
    enterprise: Annotated[
        str | None,
        typer.Option(help="企业门户账号代表的企业（统一社会信用代码）；默认演示数据中的第一家"),
    ] = None,
) -> None:
    """演示账号：每个角色一个，外加一个企业门户账号；密码随机生成并显示（重复运行不变）。"""
    from zhixiang.config import load_settings
    from zhixiang.demo.accounts import ensure_demo_accounts

    settings = load_settings()
    code = enterprise or _first_demo_enterprise()
    store = _store()
    logins = _run(lambda: ensure_demo_accounts(store, _me(), code, settings.home))
    table = Table("用户名", "密码", "角色", "部门 / 企业", "可以做", title="演示账号（仅供演示）")
    for x in logins:
        table.add_row(
            x.username, x.password, x.display_name, x.department or x.subject or "", x.duty
        )
    console.print(table)
    console.print(f"账号与密码另存于 {settings.home / 'demo-accounts.json'}（仅本机用户可读）")


def _first_demo_enterprise() -> str:
    from zhixiang.demo import generate_enterprises

    return str(generate_enterprises(1, seed=0).column("credit_code")[0])


def _labels(roles: tuple[str, ...] | list[str]) -> str:
    from zhixiang.access import ROLE_LABELS, Role

    return "、".join(ROLE_LABELS[Role(r)] for r in roles)
