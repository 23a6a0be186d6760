"""The access store: accounts with hashed passwords, API keys shown once, sessions, login throttling.

Passwords are hashed with Argon2id (argon2-cffi); API keys and session tokens are 192-bit random
secrets of which only the SHA-256 is kept. Every change is made by a `Principal` holding
`access.admin` (or by the operator at the server's shell) and names who made it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from zhixiang.access._departments import DepartmentDirectory, load_departments
from zhixiang.access._models import ApiKey, LoginFailure, Session, User
from zhixiang.access._permissions import STAFF_ROLES, Principal, PrincipalKind, Role
from zhixiang.db import make_engine, migrate
from zhixiang.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "access_alembic_version"
KEY_CACHE_SECONDS = 5.0
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")
_KEY_SECRET = re.compile(r"^zx_([0-9a-f]{8})_")
MIN_PASSWORD = 10
SESSION_KEPT = timedelta(days=30)  # ended sessions are kept this long after expiry, then deleted
MAX_PASSWORD = 1024
#: Passed as `department` to `set_roles`: leave the account's department as it is.
KEEP = "<keep>"


@dataclass(frozen=True)
class Throttle:
    """Failed sign-ins allowed per account and per address within `window` before a pause."""

    per_account: int = 5
    per_address: int = 30
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class UserView:
    username: str
    display_name: str
    roles: tuple[Role, ...]
    department: str | None
    subject: str | None
    created_at: datetime
    created_by: str
    disabled: bool


@dataclass(frozen=True)
class KeyView:
    id: str
    label: str
    roles: tuple[Role, ...]
    department: str | None
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > _now()


@dataclass(frozen=True)
class SignedIn:
    """A new browser session: the cookie value (shown once), its CSRF token and when it ends."""

    token: str
    csrf_token: str
    expires_at: datetime
    principal: Principal


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _roles(text: str) -> frozenset[Role]:
    return frozenset(Role(r) for r in text.split(",") if r)


def _join(roles: Iterable[Role]) -> str:
    return ",".join(sorted(r.value for r in roles))


class AccessStore:
    """Accounts, keys and sessions over SQLAlchemy (SQLite by default, PostgreSQL in production)."""

    def __init__(
        self,
        url: str,
        *,
        directory: DepartmentDirectory | None = None,
        session_hours: float = 8.0,
        throttle: Throttle = Throttle(),
        clock: Callable[[], datetime] = _now,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.engine = make_engine(url)
        self._writer = (
            make_engine(url, immediate=True)
            if self.engine.dialect.name == "sqlite"
            else self.engine
        )
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self._writer, expire_on_commit=False)
        self._lock = threading.Lock()
        self.directory = directory or load_departments()
        self.session_length = timedelta(hours=session_hours)
        self.throttle = throttle
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        self._keys: dict[str, tuple[Principal, float]] = {}

    @cached_property
    def _dummy_hash(self) -> str:
        """Checked against when the account does not exist, so that takes as long as a wrong password."""
        return self.hasher.hash(secrets.token_urlsafe(16))

    def migrate(self) -> str:
        return migrate(self._writer, MIGRATIONS, VERSION_TABLE)

    def close(self) -> None:
        self.engine.dispose()
        self._writer.dispose()

    @contextmanager
    def _writing(self) -> Iterator[DbSession]:
        with self._lock, self._write.begin() as session:
            yield session

    # -- validation ---------------------------------------------------------------------------------

    def _check_roles(
        self, roles: Iterable[Role | str], department: str | None, subject: str | None
    ) -> tuple[frozenset[Role], str | None]:
        try:
            chosen = frozenset(Role(r) for r in roles)
        except ValueError as exc:
            known = "、".join(r.value for r in Role)
            raise InvalidInput(f"未知角色（可选：{known}）: {exc}", "roles") from None
        if not chosen:
            raise InvalidInput("至少需要一个角色", "roles")
        code = self.directory.resolve(department).code if department else None
        if Role.DATA_OFFICER in chosen and code is None:
            raise InvalidInput("数据管理员必须属于一个部门（授权审批不能授予本部门）", "department")
        if Role.HANDLER in chosen and code is None:
            raise InvalidInput("部门办理人必须属于一个部门", "department")
        portal = chosen & {Role.ENTERPRISE, Role.CITIZEN}
        if portal and chosen - portal:
            raise InvalidInput("门户账号不能同时拥有工作人员角色", "roles")
        if portal and not subject:
            raise InvalidInput("门户账号须指明所代表的企业或个人（subject）", "subject")
        return chosen, code

    @staticmethod
    def _check_subject(roles: frozenset[Role], subject: str | None) -> str | None:
        """A portal account speaks for a real identifier: an enterprise's 统一社会信用代码, a
        citizen's 身份证号 (normalised, so one person never gets two accounts by spelling)."""
        from zhixiang.identity import IdentifierError, validate_credit_code, validate_id_number

        if subject is None:
            return None
        check = validate_credit_code if Role.ENTERPRISE in roles else validate_id_number
        if not roles & {Role.ENTERPRISE, Role.CITIZEN}:
            raise InvalidInput("只有门户账号代表企业或个人（subject）", "subject")
        try:
            return check(subject)
        except IdentifierError as exc:
            raise InvalidInput(f"subject: {exc}", "subject") from None

    @staticmethod
    def _check_admin(by: Principal) -> None:
        by.require("access.admin")

    def _check_password(self, password: str, username: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise InvalidInput(f"密码至少 {MIN_PASSWORD} 位", "password")
        if len(password) > MAX_PASSWORD:
            raise InvalidInput(f"密码最多 {MAX_PASSWORD} 位", "password")
        if username.lower() in password.lower():
            raise InvalidInput("密码不能包含用户名", "password")
        if len(set(password)) < 4:
            raise InvalidInput("密码过于简单", "password")

    # -- users ----------------------------------------------------------------------------------------

    def create_user(
        self,
        by: Principal,
        username: str,
        password: str,
        roles: Iterable[Role | str],
        *,
        display_name: str | None = None,
        department: str | None = None,
        subject: str | None = None,
    ) -> UserView:
        """A new account. Only an administrator may create one; a sysadmin only by another sysadmin."""
        self._check_admin(by)
        if not _USERNAME.match(username):
            raise InvalidInput("用户名为2–32位小写字母、数字、点、横线或下划线", "username")
        chosen, code = self._check_roles(roles, department, subject)
        subject = self._check_subject(chosen, subject)
        if Role.SYSADMIN in chosen and not by.has(Role.SYSADMIN):
            raise Forbidden("只有系统管理员可以创建系统管理员", "roles")
        self._check_password(password, username)
        now = self.clock()
        row = User(
            username=username,
            display_name=(display_name or username)[:64],
            roles=_join(chosen),
            department=code,
            subject=subject,
            password_hash=self.hasher.hash(password),
            created_at=now,
            created_by=by.actor,
            password_changed_at=now,
            disabled_at=None,
        )
        try:
            with self._writing() as session:
                session.add(row)
        except IntegrityError:
            raise Conflict(f"用户名 {username} 已存在", "username") from None
        return _user_view(row)

    def get_user(self, username: str) -> UserView:
        with self._read() as session:
            row = session.get(User, username)
            if row is None:
                raise NotFound(f"没有用户 {username}", "username")
            return _user_view(row)

    def list_users(self) -> list[UserView]:
        with self._read() as session:
            return [_user_view(u) for u in session.scalars(select(User).order_by(User.username))]

    def set_roles(
        self,
        by: Principal,
        username: str,
        roles: Iterable[Role | str],
        department: str | None = KEEP,
    ) -> UserView:
        """Change an account's roles and department (`KEEP`: unchanged); nobody changes their own
        (no self-promotion). Every session of the account ends, so new rights start clean."""
        self._check_admin(by)
        if by.kind is PrincipalKind.USER and by.id == username:
            raise Forbidden("不能修改自己的角色，请由另一位管理员操作", "username")
        with self._writing() as session:
            row = session.get(User, username)
            if row is None:
                raise NotFound(f"没有用户 {username}", "username")
            if department == KEEP:
                department = row.department
            chosen, code = self._check_roles(roles, department, row.subject)
            if Role.SYSADMIN in chosen | _roles(row.roles) and not by.has(Role.SYSADMIN):
                raise Forbidden("只有系统管理员可以授予或收回系统管理员角色", "roles")
            row.roles, row.department = _join(chosen), code
            self._end_sessions(session, username)
            return _user_view(row)

    def set_password(
        self, by: Principal, username: str, password: str, old: str | None = None
    ) -> None:
        """Set a password: an administrator for anyone, a user for themselves with the old password.

        Every session of the account ends, so a stolen session does not outlive a password change.
        """
        own = by.kind is PrincipalKind.USER and by.id == username
        if not own:
            self._check_admin(by)
        self._check_password(password, username)
        with self._writing() as session:
            row = session.get(User, username)
            if row is None:
                raise NotFound(f"没有用户 {username}", "username")
            if own and not self._verify(row.password_hash, old or ""):
                raise Forbidden("原密码不正确", "old_password")
            row.password_hash = self.hasher.hash(password)
            row.password_changed_at = self.clock()
            self._end_sessions(session, username)

    def disable_user(self, by: Principal, username: str) -> UserView:
        self._check_admin(by)
        if by.kind is PrincipalKind.USER and by.id == username:
            raise Forbidden("不能停用自己的账号", "username")
        with self._writing() as session:
            row = session.get(User, username)
            if row is None:
                raise NotFound(f"没有用户 {username}", "username")
            row.disabled_at = row.disabled_at or self.clock()
            self._end_sessions(session, username)
            return _user_view(row)

    def enable_user(self, by: Principal, username: str) -> UserView:
        """Let a disabled account sign in again (with its old password, or set a new one first)."""
        self._check_admin(by)
        with self._writing() as session:
            row = session.get(User, username)
            if row is None:
                raise NotFound(f"没有用户 {username}", "username")
            row.disabled_at = None
            return _user_view(row)

    # -- signing in ----------------------------------------------------------------------------------

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def _throttled(self, session: DbSession, username: str, address: str, now: datetime) -> None:
        since = now - self.throttle.window
        for column, value, limit in (
            (LoginFailure.username, username, self.throttle.per_account),
            (LoginFailure.address, address, self.throttle.per_address),
        ):
            recent = session.execute(
                select(func.count(), func.min(LoginFailure.at)).where(
                    column == value, LoginFailure.at >= since
                )
            ).one()
            if recent[0] >= limit:
                wait = int((recent[1] + self.throttle.window - now).total_seconds()) + 1
                raise TooManyRequests(
                    f"登录失败次数过多，请 {max(wait // 60, 1)} 分钟后再试",
                    retry_after=max(wait, 1),
                )

    def sign_in(self, username: str, password: str, address: str = "unknown") -> SignedIn:
        """Check a password and open a session; wrong name and wrong password read the same."""
        now = self.clock()
        username = username.strip().lower()[:64]
        address = address[:64]
        with self._writing() as session:
            self._throttled(session, username, address, now)
            row = session.get(User, username)
            stored = row.password_hash if row is not None else self._dummy_hash
            ok = self._verify(stored, password) and row is not None and row.disabled_at is None
            if not ok:
                session.execute(
                    delete(LoginFailure).where(LoginFailure.at < now - self.throttle.window)
                )
                session.add(LoginFailure(username=username, address=address, at=now))
        if not ok:
            raise Unauthenticated("用户名或密码不正确", "password")
        assert row is not None
        token, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        expires = now + self.session_length
        with self._writing() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.username == username))
            session.execute(delete(Session).where(Session.expires_at < now - SESSION_KEPT))
            session.add(
                Session(
                    token_hash=_digest(token),
                    username=username,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=expires,
                    ended_at=None,
                )
            )
            if row.password_hash and self.hasher.check_needs_rehash(row.password_hash):
                session.execute(
                    update(User)
                    .where(User.username == username)
                    .values(password_hash=self.hasher.hash(password))
                )
        return SignedIn(token, csrf, expires, _user_principal(row, self.directory))

    def session(self, token: str | None) -> tuple[Principal, str]:
        """The principal of a live session and its CSRF token; refused if ended, expired or disabled."""
        if not token:
            raise Unauthenticated("请先登录", "session")
        with self._read() as session:
            found = session.execute(
                select(Session, User)
                .join(User, User.username == Session.username)
                .where(Session.token_hash == _digest(token))
            ).first()
        if found is None:
            raise Unauthenticated("会话无效，请重新登录", "session")
        row, user = found
        if row.ended_at is not None or row.expires_at <= self.clock() or user.disabled_at:
            raise Unauthenticated("会话已结束或已过期，请重新登录", "session")
        return _user_principal(user, self.directory), row.csrf_token

    def sign_out(self, token: str | None) -> None:
        """End one session (logout); the same cookie never works again."""
        if not token:
            return
        with self._writing() as session:
            session.execute(
                update(Session)
                .where(Session.token_hash == _digest(token), Session.ended_at.is_(None))
                .values(ended_at=self.clock())
            )

    def _end_sessions(self, session: DbSession, username: str) -> None:
        session.execute(
            update(Session)
            .where(Session.username == username, Session.ended_at.is_(None))
            .values(ended_at=self.clock())
        )

    # -- API keys -------------------------------------------------------------------------------------

    def create_key(
        self,
        by: Principal,
        roles: Iterable[Role | str],
        *,
        label: str,
        department: str | None = None,
        valid_days: int = 365,
    ) -> tuple[str, KeyView]:
        """A new key for a machine; the secret is returned once and only its hash is stored."""
        self._check_admin(by)
        named = {str(r) for r in roles}
        if named & {Role.ENTERPRISE, Role.CITIZEN}:
            raise InvalidInput("门户用户请用账号登录，不签发 API 密钥", "roles")
        if Role.SYSADMIN in named:
            raise InvalidInput("不为系统管理员角色签发 API 密钥", "roles")
        chosen, code = self._check_roles(named, department, None)
        if not 1 <= valid_days <= 3 * 366:
            raise InvalidInput("有效期应为 1–1098 天", "valid_days")
        if not label.strip():
            raise InvalidInput("请写明密钥的用途或使用系统", "label")
        key_id = secrets.token_hex(4)
        secret = f"zx_{key_id}_{secrets.token_urlsafe(24)}"
        now = self.clock()
        row = ApiKey(
            id=key_id,
            secret_hash=_digest(secret),
            label=label.strip()[:100],
            roles=_join(chosen),
            department=code,
            created_at=now,
            created_by=by.actor,
            expires_at=now + timedelta(days=valid_days),
            revoked_at=None,
        )
        with self._writing() as session:
            session.add(row)
        return secret, _key_view(row)

    def list_keys(self) -> list[KeyView]:
        with self._read() as session:
            return [
                _key_view(k) for k in session.scalars(select(ApiKey).order_by(ApiKey.created_at))
            ]

    def revoke_key(self, by: Principal, key_id: str) -> KeyView:
        """Revoke a key by its id, or by the leaked secret itself (whose id is in its prefix)."""
        self._check_admin(by)
        if found := _KEY_SECRET.match(key_id):
            key_id = found.group(1)
        with self._writing() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                raise NotFound(f"没有编号为 {key_id} 的密钥", "key_id")
            row.revoked_at = row.revoked_at or self.clock()
        self._keys.clear()
        return _key_view(row)

    def authenticate_key(self, secret: str | None) -> Principal:
        """The key's principal; remembered for KEY_CACHE_SECONDS, so a revocation made by another
        process takes effect within that time (at once in this one), and never past its expiry."""
        if not secret:
            raise Unauthenticated("需要 API 密钥（请求头 X-API-Key）", "api_key")
        digest, now = _digest(secret), time.monotonic()
        cached = self._keys.get(digest)
        if cached and cached[1] > now:
            return cached[0]
        with self._read() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.secret_hash == digest))
        if row is None or row.revoked_at is not None:
            raise Unauthenticated("API 密钥无效或已吊销", "api_key")
        remaining = (row.expires_at - self.clock()).total_seconds()
        if remaining <= 0:
            raise Unauthenticated(
                f"API 密钥 {row.id} 已于 {row.expires_at:%Y-%m-%d} 过期", "api_key"
            )
        principal = Principal(
            PrincipalKind.KEY,
            row.id,
            row.label,
            _roles(row.roles),
            row.department,
            directory=self.directory,
        )
        # The expiry is wall-clock (self.clock), the cache monotonic: carry over the seconds left.
        self._keys[digest] = (principal, now + min(KEY_CACHE_SECONDS, remaining))
        return principal


def _user_principal(row: User, directory: DepartmentDirectory) -> Principal:
    return Principal(
        PrincipalKind.USER,
        row.username,
        row.display_name,
        _roles(row.roles),
        row.department,
        row.subject,
        directory,
    )


def _user_view(row: User) -> UserView:
    return UserView(
        row.username,
        row.display_name,
        tuple(sorted(_roles(row.roles))),
        row.department,
        row.subject,
        row.created_at,
        row.created_by,
        row.disabled_at is not None,
    )


def _key_view(row: ApiKey) -> KeyView:
    return KeyView(
        row.id,
        row.label,
        tuple(sorted(_roles(row.roles))),
        row.department,
        row.created_at,
        row.created_by,
        row.expires_at,
        row.revoked_at,
    )


def operator(name: str) -> Principal:
    """Whoever runs the CLI at the server's shell: they can read the databases anyway, so the CLI
    gives them every staff role, and names them in every record (`operator:<os user>`)."""
    return Principal(PrincipalKind.OPERATOR, name, f"服务器操作员 {name}", STAFF_ROLES)


def open_access(url: str | None = None) -> AccessStore:
    """The configured store (`Settings.access_db`), migrated."""
    from zhixiang.config import load_settings

    settings = load_settings()
    hasher = PasswordHasher(
        time_cost=settings.password_hash_rounds, memory_cost=settings.password_hash_memory
    )
    store = AccessStore(
        url or settings.access_db, session_hours=settings.session_hours, hasher=hasher
    )
    store.migrate()
    return store
