"""Accounts, sessions, throttling and API keys against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from zhixiang.access import AccessStore, Principal, PrincipalKind, Role, Throttle, operator
from zhixiang.access._store import KEY_CACHE_SECONDS
from zhixiang.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)

PASSWORD = "correct horse 42"
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database_url: str, clock: Clock) -> AccessStore:
    store = AccessStore(database_url, clock=clock, hasher=FAST, throttle=Throttle(3, 10))
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def admin(store: AccessStore) -> Principal:
    store.create_user(operator("root"), "admin", PASSWORD + "!", [Role.SYSADMIN])
    return store.sign_in("admin", PASSWORD + "!").principal


def test_only_an_administrator_creates_accounts_and_passwords_are_never_stored(
    store: AccessStore, admin: Principal
) -> None:
    user = store.create_user(
        admin, "li.na", PASSWORD, ["handler"], display_name="李娜", department="人社局"
    )
    assert user.department == "city-hrss" and user.roles == (Role.HANDLER,)
    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM access_users WHERE username='li.na'"))
        hashed = stored.scalar_one()
    assert PASSWORD not in hashed and hashed.startswith("$argon2id$")
    handler = store.sign_in("li.na", PASSWORD).principal
    with pytest.raises(Forbidden):
        store.create_user(handler, "mallory", PASSWORD, ["sysadmin"])
    with pytest.raises(Conflict):
        store.create_user(admin, "li.na", PASSWORD, ["agent"])


@pytest.mark.parametrize(
    ("username", "password", "roles", "department", "field"),
    [
        ("Li Na", PASSWORD, ["agent"], None, "username"),
        ("zhang", "short", ["agent"], None, "password"),
        ("zhang", "zhang-is-my-password", ["agent"], None, "password"),
        ("zhang", PASSWORD, ["king"], None, "roles"),
        ("zhang", PASSWORD, ["handler"], None, "department"),
        ("zhang", PASSWORD, ["handler"], "nowhere", "department"),
        ("zhang", PASSWORD, ["enterprise"], None, "subject"),
    ],
)
def test_bad_accounts_are_refused_naming_the_field(
    store: AccessStore, admin: Principal, username, password, roles, department, field
) -> None:
    with pytest.raises((InvalidInput, NotFound)) as refused:
        store.create_user(admin, username, password, roles, department=department)
    assert refused.value.field == field
    assert [u.username for u in store.list_users()] == ["admin"]


def test_a_session_ends_at_logout_expiry_password_change_and_when_disabled(
    store: AccessStore, admin: Principal, clock: Clock
) -> None:
    store.create_user(admin, "wang", PASSWORD, ["agent"], department="center")
    first = store.sign_in("wang", PASSWORD)
    principal, csrf = store.session(first.token)
    assert principal.id == "wang" and principal.has(Role.AGENT) and csrf == first.csrf_token
    store.sign_out(first.token)
    with pytest.raises(Unauthenticated):
        store.session(first.token)
    second = store.sign_in("wang", PASSWORD)
    clock.now += timedelta(hours=9)
    with pytest.raises(Unauthenticated, match="过期"):
        store.session(second.token)
    third = store.sign_in("wang", PASSWORD)
    store.set_password(admin, "wang", "another good one 7")
    with pytest.raises(Unauthenticated):
        store.session(third.token)
    fourth = store.sign_in("wang", "another good one 7")
    store.disable_user(admin, "wang")
    with pytest.raises(Unauthenticated):
        store.session(fourth.token)
    with pytest.raises(Unauthenticated):
        store.sign_in("wang", "another good one 7")


def test_guessing_is_throttled_per_account_and_unknown_names_read_like_wrong_passwords(
    store: AccessStore, admin: Principal, clock: Clock
) -> None:
    store.create_user(admin, "zhao", PASSWORD, ["leader"])
    for _ in range(3):
        with pytest.raises(Unauthenticated, match="用户名或密码不正确"):
            store.sign_in("zhao", "wrong password!", "10.0.0.1")
    with pytest.raises(TooManyRequests) as paused:
        store.sign_in("zhao", PASSWORD, "10.0.0.2")
    assert paused.value.retry_after > 0
    with pytest.raises(Unauthenticated, match="用户名或密码不正确"):
        store.sign_in("nobody", PASSWORD, "10.0.0.3")
    clock.now += timedelta(minutes=16)
    assert store.sign_in("zhao", PASSWORD).principal.id == "zhao"


def test_nobody_changes_their_own_roles(store: AccessStore, admin: Principal) -> None:
    with pytest.raises(Forbidden, match="自己"):
        store.set_roles(admin, "admin", ["sysadmin", "data_officer"])


def test_keys_are_shown_once_hashed_expiring_and_revocable(
    store: AccessStore, admin: Principal, clock: Clock
) -> None:
    secret, key = store.create_key(admin, ["channel"], label="i厦门 App", valid_days=30)
    with store.engine.connect() as conn:
        assert secret not in str(conn.execute(text("SELECT * FROM access_keys")).all())
    principal = store.authenticate_key(secret)
    assert principal.kind is PrincipalKind.KEY and principal.can("tickets.intake")
    assert not principal.can("tickets.dispatch")
    clock.now += timedelta(days=31)
    store._keys.clear()
    with pytest.raises(Unauthenticated, match="过期"):
        store.authenticate_key(secret)
    clock.now -= timedelta(days=31)
    store.revoke_key(admin, key.id)
    with pytest.raises(Unauthenticated, match="吊销"):
        store.authenticate_key(secret)
    with pytest.raises(InvalidInput):
        store.create_key(admin, ["sysadmin"], label="root")
    with pytest.raises(Unauthenticated):
        store.authenticate_key("zx_00000000_guess")


def test_a_key_that_expires_while_cached_is_refused_after_its_expiry(
    store: AccessStore, admin: Principal, clock: Clock
) -> None:
    """The cache (KEY_CACHE_SECONDS) never outlives the key: its entry ends when the key does."""
    secret, key = store.create_key(admin, ["channel"], label="i厦门 App", valid_days=1)
    clock.now = key.expires_at - timedelta(seconds=0.3)
    assert store.authenticate_key(secret).id == key.id  # now cached
    clock.now = key.expires_at + timedelta(seconds=1)
    deadline = time.monotonic() + KEY_CACHE_SECONDS - 1
    while time.monotonic() < deadline:  # the entry ends 0.3 s after caching, not 5 s
        try:
            store.authenticate_key(secret)
        except Unauthenticated as refused:
            assert "过期" in refused.message
            break
        time.sleep(0.05)
    else:
        pytest.fail("an expired key was still accepted from the cache")


def test_changing_roles_keeps_the_department_unless_told_and_ends_sessions(
    store: AccessStore, admin: Principal
) -> None:
    store.create_user(admin, "wang", PASSWORD, ["agent"], department="center")
    signed = store.sign_in("wang", PASSWORD)
    assert store.set_roles(admin, "wang", ["agent", "leader"]).department == "center"
    with pytest.raises(Unauthenticated):
        store.session(signed.token)
    assert store.set_roles(admin, "wang", ["handler"], "人社局").department == "city-hrss"
    assert store.set_roles(admin, "wang", ["leader"], None).department is None


def test_a_data_officer_belongs_to_a_department(store: AccessStore, admin: Principal) -> None:
    """Grant approval refuses grants to the approver's own department: that needs a department."""
    with pytest.raises(InvalidInput) as refused:
        store.create_key(admin, ["data_officer"], label="数据中台")
    assert refused.value.field == "department"
    _, key = store.create_key(admin, ["data_officer"], label="数据中台", department="大数据局")
    assert key.department == "city-data"


def test_portal_roles_get_accounts_not_keys_and_a_leaked_secret_revokes_its_key(
    store: AccessStore, admin: Principal
) -> None:
    with pytest.raises(InvalidInput) as refused:
        store.create_key(admin, ["enterprise"], label="企业")
    assert refused.value.field == "roles"
    secret, key = store.create_key(admin, ["channel"], label="网站")
    assert store.revoke_key(admin, secret).id == key.id
    with pytest.raises(Unauthenticated, match="吊销"):
        store.authenticate_key(secret)


def test_a_disabled_account_can_be_enabled_again(store: AccessStore, admin: Principal) -> None:
    store.create_user(admin, "zhao", PASSWORD, ["leader"])
    store.disable_user(admin, "zhao")
    with pytest.raises(Unauthenticated):
        store.sign_in("zhao", PASSWORD)
    assert store.enable_user(admin, "zhao").disabled is False
    assert store.sign_in("zhao", PASSWORD).principal.id == "zhao"
    with pytest.raises(InvalidInput, match="最多"):
        store.set_password(admin, "zhao", "x" * 2000)


def test_only_a_system_administrator_makes_system_administrators(
    store: AccessStore, admin: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should another role ever administer accounts, it still cannot hand out the top role."""
    from zhixiang.access import PERMISSIONS, Permission

    deputy_roles = frozenset({Role.SYSADMIN, Role.DATA_OFFICER})
    monkeypatch.setitem(
        PERMISSIONS, "access.admin", Permission("access.admin", "账号", deputy_roles)
    )
    deputy = Principal(PrincipalKind.USER, "deputy", roles=frozenset({Role.DATA_OFFICER}))
    with pytest.raises(Forbidden, match="系统管理员"):
        store.create_user(deputy, "root2", PASSWORD, ["sysadmin"])
    store.create_user(deputy, "clerk", PASSWORD, ["agent"])
    with pytest.raises(Forbidden, match="系统管理员"):
        store.set_roles(deputy, "clerk", ["sysadmin"])
    with pytest.raises(Forbidden, match="系统管理员"):
        store.set_roles(deputy, "admin", ["agent"])


def test_a_portal_account_speaks_for_a_valid_identifier(
    store: AccessStore, admin: Principal
) -> None:
    user = store.create_user(
        admin, "qiye01", PASSWORD, ["enterprise"], subject="91350211kp3nfa4p28"
    )
    assert user.subject == "91350211KP3NFA4P28"
    for roles, subject in (
        (["enterprise"], "91350211KP3NFA4P29"),
        (["citizen"], "350203198901190004"),
        (["agent"], "91350211KP3NFA4P28"),
    ):
        with pytest.raises(InvalidInput) as refused:
            store.create_user(admin, "bad", PASSWORD, roles, subject=subject)
        assert refused.value.field == "subject"
