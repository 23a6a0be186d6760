"""`zhixiang access …` as an administrator runs it: passwords never echoed, key secrets shown once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zhixiang.access import open_access
from zhixiang.cli import app
from zhixiang.errors import Unauthenticated

runner = CliRunner()
PASSWORD = "a good password 1"


def zx(*args: str, input: str | None = None):
    return runner.invoke(app, ["access", *args], input=input)


def test_an_account_is_created_with_a_hidden_password_and_acts_as_the_os_user(home: Path) -> None:
    typed = zx(
        "users",
        "create",
        "li.na",
        "-r",
        "handler",
        "--department",
        "人社局",
        "--name",
        "李娜",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert typed.exit_code == 0, typed.output
    assert PASSWORD not in typed.output and "部门办理人" in typed.output
    listed = json.loads(zx("users", "list", "--json").output)
    assert listed[0]["department"] == "city-hrss"
    assert listed[0]["created_by"].startswith("operator:")
    assert open_access().sign_in("li.na", PASSWORD).principal.department == "city-hrss"


def test_refusals_name_the_field_and_exit_non_zero(home: Path) -> None:
    unknown = zx(
        "users", "create", "zhang", "-r", "king", "--password-stdin", input=PASSWORD + "\n"
    )
    assert unknown.exit_code == 2 and "[roles]" in unknown.output and "未知角色" in unknown.output
    short = zx("users", "create", "zhang", "-r", "agent", "--password-stdin", input="short\n")
    assert short.exit_code == 2 and "[password]" in short.output
    nowhere = zx(
        "users",
        "create",
        "zhang",
        "-r",
        "handler",
        "--department",
        "人社厅",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert nowhere.exit_code == 4 and "部门目录中没有" in nowhere.output
    assert json.loads(zx("users", "list", "--json").output) == []


def test_roles_password_disable_and_enable(home: Path) -> None:
    zx(
        "users",
        "create",
        "wang",
        "-r",
        "agent",
        "--department",
        "center",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    changed = zx("users", "roles", "wang", "-r", "agent", "-r", "leader")
    assert changed.exit_code == 0 and "center" in changed.output  # the department is kept
    assert (
        zx("users", "password", "wang", "--password-stdin", input="another one 77\n").exit_code == 0
    )
    store = open_access()
    with pytest.raises(Unauthenticated):
        store.sign_in("wang", PASSWORD)
    assert zx("users", "disable", "wang").exit_code == 0
    with pytest.raises(Unauthenticated):
        store.sign_in("wang", "another one 77")
    assert zx("users", "enable", "wang").exit_code == 0
    assert store.sign_in("wang", "another one 77").principal.roles == {"agent", "leader"}


def test_a_key_is_shown_once_listed_without_its_secret_and_revoked_by_the_leaked_secret(
    home: Path,
) -> None:
    issued = zx(
        "keys",
        "create",
        "-r",
        "handler",
        "--department",
        "city-hrss",
        "--label",
        "人社局业务系统",
        "--days",
        "30",
    )
    assert issued.exit_code == 0, issued.output
    secret = issued.output.strip().splitlines()[-1]
    assert secret.startswith("zx_")
    assert open_access().authenticate_key(secret).department == "city-hrss"
    listed = zx("keys", "list", "--json").output
    assert secret not in listed and json.loads(listed)[0]["active"] is True
    assert zx("keys", "revoke", secret).exit_code == 0
    with pytest.raises(Unauthenticated, match="吊销"):
        open_access().authenticate_key(secret)
    refused = zx("keys", "create", "-r", "sysadmin", "--label", "root")
    assert refused.exit_code == 2 and secret not in refused.output


def test_departments_list_show_and_check(home: Path, tmp_path: Path) -> None:
    shown = zx("departments", "show", "人社局")
    assert shown.exit_code == 0 and "city-hrss" in shown.output and "厦门市人民政府" in shown.output
    codes = {d["code"] for d in json.loads(zx("departments", "list", "--json").output)}
    assert {"center", "city-hrss", "siming-environment"} <= codes
    broken = tmp_path / "departments.yaml"
    broken.write_text("departments:\n  - {code: A, name: x, kind: bureau}\n", "utf-8")
    checked = zx("departments", "check", str(broken))
    assert checked.exit_code == 2 and "第1项 code" in checked.output
    broken.write_text("departments:\n  - {code: a, name: x, kind: bureau}\n", "utf-8")
    assert zx("departments", "check", str(broken)).exit_code == 0


def test_demo_users_cover_every_staff_role_and_keep_their_passwords(home: Path) -> None:
    first = zx("demo-users", "--enterprise", "91350211KP3NFA4P28")
    assert first.exit_code == 0, first.output
    logins = json.loads((home / "demo-accounts.json").read_text("utf-8"))
    assert {x["role"] for x in logins} == {
        "agent",
        "handler",
        "policy_admin",
        "reviewer",
        "data_officer",
        "leader",
        "sysadmin",
        "enterprise",
    }
    assert (home / "demo-accounts.json").stat().st_mode & 0o077 == 0
    again = zx("demo-users", "--enterprise", "91350211KP3NFA4P28")
    assert again.exit_code == 0
    assert json.loads((home / "demo-accounts.json").read_text("utf-8")) == logins
    store = open_access()
    for login in logins:
        assert login["password"] in first.output  # printed in the terminal
        assert store.sign_in(login["username"], login["password"]).principal.id == login["username"]
    handler = next(x for x in logins if x["role"] == "handler")
    assert handler["department"] in store.directory
