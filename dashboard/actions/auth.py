"""Sign-in, server-side sessions, lockout, the cookie key and the demo users of `make run`.

Passwords are bcrypt hashes in PostgreSQL. A successful sign-in creates a session row and hands
back a random token; only its sha256 is stored. Every page load turns the token back into an
:class:`Actor` with :func:`actor_from_session`, which reads the user's roles from the database,
so nothing kept in the browser or in Streamlit's session state can grant anything.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import bcrypt
from sqlalchemy import Connection, Engine, text

from dashboard.actions.base import Actor, now_utc, system_actor
from dashboard.actions.sessions import TOUCH_EVERY, live_session, open_session, session_id_of
from dashboard.db.auth_store import (
    AuditRecord,
    count_users,
    get_session,
    get_user,
    insert_user,
    record_audit,
    revoke_session,
    touch_session,
    update_user,
)
from dashboard.domain.permissions import Role, known_roles
from dashboard.settings import Settings

log = logging.getLogger(__name__)

LOGIN_FAILED_MESSAGE = (
    "Sign-in failed. Check your user name and password; after repeated failures an account is "
    "locked for a while."
)
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=5)
LOCK_DURATION = timedelta(minutes=15)
MIN_PASSWORD = 12
MAX_PASSWORD_BYTES = 72  # bcrypt reads at most 72 bytes; longer passwords are refused, not cut
MIN_COOKIE_KEY = 32
MAX_TOKEN = 200
# bcrypt work factor; tests lower it (never below 4) to keep the suite fast.
BCRYPT_ROUNDS = 12


class AuthenticationFailed(Exception):
    """Sign-in refused. The message is the same whatever the cause."""

    def __init__(self) -> None:
        super().__init__(LOGIN_FAILED_MESSAGE)
        self.message = LOGIN_FAILED_MESSAGE


class CookieKeyError(RuntimeError):
    """The cookie key is missing or too weak for this environment."""


# ----------------------------------------------------------------------------- passwords


def hash_password(password: str) -> str:
    """A bcrypt hash ($2b$) of ``password`` (validate it first with :func:`password_problem`)."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(BCRYPT_ROUNDS)).decode("ascii")


_dummy_hashes: dict[int, bytes] = {}


def _dummy_hash() -> bytes:
    """A hash to check against when there is no user, so unknown names cost the same time."""
    rounds = BCRYPT_ROUNDS
    if rounds not in _dummy_hashes:
        _dummy_hashes[rounds] = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds))
    return _dummy_hashes[rounds]


def verify_password(password: str, stored_hash: str | None) -> bool:
    """bcrypt check; always spends one bcrypt computation, even with no hash or a bad input."""
    raw = password.encode("utf-8", "surrogatepass") if isinstance(password, str) else b""
    candidate = stored_hash.encode("ascii", "replace") if stored_hash else _dummy_hash()
    usable = 0 < len(raw) <= MAX_PASSWORD_BYTES and stored_hash is not None
    try:
        matched = bcrypt.checkpw(raw[:MAX_PASSWORD_BYTES] or b"-", candidate)
    except ValueError:  # a malformed stored hash: spend the time anyway, then refuse
        bcrypt.checkpw(b"-", _dummy_hash())
        return False
    return matched and usable


def password_problem(password: object, *, username: str | None = None) -> str | None:
    """Why ``password`` is not acceptable, in plain words, or None when it is."""
    if not isinstance(password, str):
        return "The password must be text."
    if len(password) < MIN_PASSWORD:
        return f"The password needs at least {MIN_PASSWORD} characters."
    if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        return f"The password may have at most {MAX_PASSWORD_BYTES} bytes."
    if len(set(password)) < 5:
        return "The password repeats too few different characters."
    if username and username.lower() in password.lower():
        return "The password must not contain the user name."
    return None


def generate_password() -> str:
    """A random password that passes :func:`password_problem` (~120 bits)."""
    while True:
        candidate = secrets.token_urlsafe(15)
        if password_problem(candidate) is None:
            return candidate


# ----------------------------------------------------------------------------- sign-in


def _clean_username(username: object) -> str:
    return username.strip().lower()[:64] if isinstance(username, str) else ""


def _audit_name(username: str) -> str:
    """What to write as the actor of a failed sign-in: printable and short."""
    shown = "".join(ch if ch.isprintable() else "?" for ch in username)
    return shown or "(blank)"


def authenticate(
    engine: Engine, username: str, password: str, *, now: datetime | None = None
) -> str:
    """Sign in; return a new session token. Raise AuthenticationFailed otherwise.

    Unknown user, wrong password, disabled and locked accounts all get the same message and
    cost one bcrypt check each. Five failures for one user within 5 minutes lock it for 15
    minutes. Every sign-in, failure and lock is audited.
    """
    moment = now_utc(now)
    name = _clean_username(username)
    with engine.connect() as conn:
        stored = get_user(conn, name) if name else None
    # bcrypt outside any transaction: no row lock is held for its ~0.25 s.
    password_ok = verify_password(password, stored.password_hash if stored else None)
    with engine.begin() as conn:
        user = get_user(conn, name, for_update=True) if name else None
        if user is None:
            record_audit(
                conn,
                AuditRecord(
                    actor=_audit_name(name),
                    action="auth.failed_login",
                    outcome="failed",
                    target_type="user",
                    target_id=_audit_name(name),
                    detail="unknown user",
                ),
            )
            failure: str | None = "unknown"
        elif user.disabled:
            failure = "disabled"
        elif user.locked_until is not None and user.locked_until > moment:
            failure = "locked"
        elif not password_ok or stored is None or stored.password_hash != user.password_hash:
            failure = "password"
        else:
            failure = None
        if user is not None and failure is not None:
            _record_failure(
                conn, user.username, tuple(user.roles), user.failed_logins, failure, moment
            )
        if failure is not None:
            token = None
        else:
            assert user is not None
            token = open_session(conn, user.username, now=moment)
            update_user(conn, user.username, failed_logins=[], locked_until=None)
            record_audit(
                conn,
                AuditRecord(
                    actor=user.username,
                    actor_roles=user.roles,
                    action="auth.login",
                    outcome="ok",
                    target_type="user",
                    target_id=user.username,
                ),
            )
    if token is None:
        raise AuthenticationFailed()
    return token


def _record_failure(
    conn: Connection,
    username: str,
    roles: tuple[str, ...],
    failures: tuple[datetime, ...],
    cause: str,
    now: datetime,
) -> None:
    """Count a failed sign-in of a known user; lock the account at the fifth within 5 min."""
    record_audit(
        conn,
        AuditRecord(
            actor=username,
            actor_roles=roles,
            action="auth.failed_login",
            outcome="failed",
            target_type="user",
            target_id=username,
            detail=cause,
        ),
    )
    if cause != "password":  # locked or disabled accounts do not extend their lock
        return
    recent = [t for t in failures if t > now - FAILURE_WINDOW] + [now]
    if len(recent) >= MAX_FAILURES:
        until = now + LOCK_DURATION
        update_user(conn, username, failed_logins=[], locked_until=until)
        record_audit(
            conn,
            AuditRecord(
                actor=username,
                actor_roles=roles,
                action="auth.lock",
                outcome="ok",
                target_type="user",
                target_id=username,
                after={"locked_until": until.isoformat()},
                detail=f"{len(recent)} failed sign-ins within {FAILURE_WINDOW}",
            ),
        )
    else:
        update_user(conn, username, failed_logins=recent[-MAX_FAILURES:])


def actor_from_session(
    engine: Engine, token: str | None, *, now: datetime | None = None
) -> Actor | None:
    """The signed-in actor for a session token, with roles from the database; None if not live.

    Call it on every page load. It refuses revoked, idle (30 min), expired (12 h) sessions and
    disabled users, marks dead sessions revoked, and records activity (at most once a minute).
    """
    if not isinstance(token, str) or not 20 <= len(token) <= MAX_TOKEN:
        return None
    moment = now_utc(now)
    sid = session_id_of(token)
    with engine.begin() as conn:
        session = live_session(conn, sid, now=moment)
        if session is None:
            return None
        if moment - session.last_seen_at >= TOUCH_EVERY:
            touch_session(conn, sid, moment)
    return Actor(username=session.username, roles=session.roles, session_id=sid)


def logout(engine: Engine, token: str | None, *, now: datetime | None = None) -> bool:
    """End the session on the server (a replayed cookie is refused after this). Audited."""
    if not isinstance(token, str) or not 20 <= len(token) <= MAX_TOKEN:
        return False
    moment = now_utc(now)
    sid = session_id_of(token)
    with engine.begin() as conn:
        row = get_session(conn, sid)
        if row is None or not revoke_session(conn, sid, now=moment, reason="logout"):
            return False
        record_audit(
            conn,
            AuditRecord(
                actor=row.username,
                actor_roles=row.roles,
                action="auth.logout",
                outcome="ok",
                target_type="user",
                target_id=row.username,
            ),
        )
    return True


@dataclass(frozen=True)
class LoginIdentity:
    """What a signed-in page may show about the user (no secrets)."""

    username: str
    display_name: str
    email: str | None
    roles: tuple[Role, ...]


def get_identity(engine: Engine, actor: Actor) -> LoginIdentity | None:
    """Display name, e-mail and roles of a signed-in actor (None when the user is gone)."""
    with engine.connect() as conn:
        user = get_user(conn, actor.username)
    if user is None:
        return None
    return LoginIdentity(user.username, user.display_name, user.email, known_roles(user.roles))


def authenticator_credentials(engine: Engine) -> dict[str, Any]:
    """streamlit-authenticator's ``credentials`` dict, built from the database (enabled users).

    The library may rewrite this dict (failed-attempt counters, logged_in flags); nothing is
    written back, so the database stays the only source of truth. Sign-in itself should go
    through :func:`authenticate`, which adds lockout, auditing and server-side sessions.
    """
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT username, display_name, email, password_hash, roles FROM users "
                "WHERE NOT disabled ORDER BY username"
            )
        ).mappings()
        users = {
            r["username"]: {
                "name": r["display_name"] or r["username"],
                "email": r["email"] or "",
                "password": r["password_hash"],
                "roles": list(r["roles"]),
            }
            for r in rows
        }
    return {"usernames": users}


# ----------------------------------------------------------------------------- cookie key


def _key_problem(key: str) -> str | None:
    if len(key) < MIN_COOKIE_KEY:
        return f"it has {len(key)} characters; at least {MIN_COOKIE_KEY} are needed"
    if len(set(key)) < 10:
        return "it repeats too few different characters to be random"
    return None


def check_cookie_key(settings: Settings) -> str:
    """The key that signs the login cookie; refuse to go on without a strong one.

    Production: ORCA_COOKIE_KEY must be set to at least 32 random characters (no default
    exists). Development: when unset, a random key is created once in the state folder.
    """
    key = (settings.cookie_key or "").strip()
    hint = (
        "set ORCA_COOKIE_KEY to a random secret, e.g. the output of "
        '`python -c "import secrets; print(secrets.token_urlsafe(48))"`'
    )
    if key:
        problem = _key_problem(key)
        if problem is not None:
            raise CookieKeyError(f"ORCA_COOKIE_KEY is too weak ({problem}): {hint}")
        return key
    if settings.env == "production":
        raise CookieKeyError(f"ORCA_COOKIE_KEY is not set and production has no default: {hint}")
    return _development_key(settings.state_dir / "cookie_key")


def _development_key(path: Path) -> str:
    """Read the development key, or create it (owner-only file, O_EXCL) on first use."""
    for _ in range(20):
        try:
            existing: str | None = path.read_text().strip()
        except FileNotFoundError:
            existing = None
        if existing and _key_problem(existing) is None:
            return existing
        if existing == "":  # another process is writing it right now
            time.sleep(0.05)
            continue
        if existing is not None:  # a weak hand-written key: replace it
            path.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        except FileExistsError:
            continue
        key = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
        return key
    raise CookieKeyError(f"could not create the development cookie key in {path}")


# ----------------------------------------------------------------------------- demo users

DEMO_ROLES: tuple[Role, ...] = (Role.MANAGER, Role.OPERATOR, Role.ONCALL, Role.ADMIN)
_DEMO_LOCK = 7_242_001  # advisory lock id: two `up`s never both create demo users


def ensure_demo_users(engine: Engine, settings: Settings) -> list[tuple[str, str, tuple[str, ...]]]:
    """In development, on an empty users table, create one user per role with a random password.

    Returns (username, password, roles) for each user created, so the caller can show the
    passwords once; returns [] in production or when any user exists.
    """
    if settings.env != "development":
        return []
    created: list[tuple[str, str, tuple[str, ...]]] = []
    actor = system_actor("system:demo-users")
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _DEMO_LOCK})
        if count_users(conn) > 0:
            return []
        for role in DEMO_ROLES:
            password = generate_password()
            username = role.value
            insert_user(
                conn,
                username=username,
                display_name=f"Demo {role.value}",
                email=None,
                password_hash=hash_password(password),
                roles=[role.value],
            )
            record_audit(
                conn,
                AuditRecord(
                    actor=actor.username,
                    actor_roles=tuple(actor.roles),
                    action="user.add",
                    outcome="ok",
                    target_type="user",
                    target_id=username,
                    after={"username": username, "roles": [role.value], "disabled": False},
                    detail="demo user for development",
                ),
            )
            created.append((username, password, (role.value,)))
    return created


def print_demo_users_once(
    engine: Engine, settings: Settings, echo: Callable[[str], Any] = print
) -> int:
    """For `make run`: create the demo users if due and print their passwords (only now)."""
    created = ensure_demo_users(engine, settings)
    if created:
        width = max(len(u) for u, _, _ in created)
        echo("Demo users (development only; passwords are shown this once and stored hashed):")
        for username, password, roles in created:
            echo(f"  {username:<{width}}  {password}  ({', '.join(roles)})")
        echo("Change one with `orca-dashboard users reset-password NAME`.")
    elif settings.env == "production":
        with engine.connect() as conn:
            empty = count_users(conn) == 0
        if empty:
            echo(
                "No users yet. Create the first administrator with "
                "`orca-dashboard users add NAME --roles admin`."
            )
    return len(created)
