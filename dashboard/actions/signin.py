"""Sign-in and lockout, the signed-in actor of each page load, and sign-out.

A successful sign-in opens a server-side session and hands back a random token (only its
sha256 is stored). Every page load turns the token back into an :class:`Actor` with
:func:`actor_from_session`, which reads the user's roles from the database, so nothing kept in
the browser or in Streamlit's session state can grant anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Connection, Engine

from dashboard.actions.base import Actor, now_utc
from dashboard.actions.passwords import verify_password
from dashboard.actions.sessions import TOUCH_EVERY, live_session, open_session, session_id_of
from dashboard.data.login_limits import client_blocked_until, record_client_failure
from dashboard.db.auth_store import (
    AuditRecord,
    UserRow,
    get_session,
    get_user,
    record_audit,
    revoke_session,
    touch_session,
    update_user,
)

LOGIN_FAILED_MESSAGE = (
    "Sign-in failed. Check your user name and password; after repeated failures an account is "
    "locked for a while."
)
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=5)
LOCK_DURATION = timedelta(minutes=15)
# Per client address, whatever the user names: enough for a team behind one NAT to mistype,
# too few to lock account after account from one place (each lock needs 5 of them).
MAX_CLIENT_FAILURES = 20
CLIENT_BLOCK = timedelta(minutes=15)
MAX_CLIENT = 64
MAX_TOKEN = 200


class AuthenticationFailed(Exception):
    """Sign-in refused. The message is the same whatever the cause."""

    def __init__(self) -> None:
        super().__init__(LOGIN_FAILED_MESSAGE)
        self.message = LOGIN_FAILED_MESSAGE


def _audit_self(
    conn: Connection,
    username: str,
    roles: tuple[str, ...],
    action: str,
    outcome: str = "ok",
    **fields: Any,
) -> None:
    """The audit row of a sign-in event: the user is both the actor and the target."""
    record_audit(
        conn,
        AuditRecord(
            actor=username,
            actor_roles=roles,
            action=action,
            outcome=outcome,
            target_type="user",
            target_id=username,
            **fields,
        ),
    )


def _clean_username(username: object) -> str:
    return username.strip().lower()[:64] if isinstance(username, str) else ""


def _audit_name(username: str) -> str:
    """What to write as the actor of a failed sign-in: printable and short."""
    shown = "".join(ch if ch.isprintable() else "?" for ch in username)
    return shown or "(blank)"


@dataclass(frozen=True)
class ClientLimit:
    """Where the per-client limit lives (the shared Redis) and who is asking (their address)."""

    redis: redis.Redis
    address: str


def _client(limit: ClientLimit | None) -> str:
    if limit is None:
        return ""
    shown = "".join(ch if ch.isprintable() else "?" for ch in str(limit.address))
    return shown[:MAX_CLIENT]


def authenticate(
    engine: Engine,
    username: str,
    password: str,
    *,
    now: datetime | None = None,
    client: ClientLimit | None = None,
) -> str:
    """Sign in; return a new session token. Raise AuthenticationFailed otherwise.

    Unknown user, wrong password, disabled and locked accounts, and a blocked client address
    all get the same message and cost one bcrypt check each. Five failures for one user within
    5 minutes lock it for 15 minutes; twenty from one client address (``client``) within 5
    minutes block that address for 15 minutes, whatever user names it tries. Every sign-in,
    failure, lock and block is audited (with the client address when known).
    """
    moment = now_utc(now)
    name = _clean_username(username)
    address = _client(client)
    where = f"client {address}" if address else None
    blocked = (
        client_blocked_until(client.redis, address, now=moment) if client and address else None
    )
    with engine.connect() as conn:
        stored = get_user(conn, name) if name else None
    # bcrypt outside any transaction: no row lock is held for its ~0.25 s.
    password_ok = verify_password(password, stored.password_hash if stored else None)
    with engine.begin() as conn:
        user = get_user(conn, name, for_update=True) if name else None
        if blocked is not None:
            failure: str | None = "client blocked"
        elif user is None:
            failure = "unknown user"
        elif user.disabled:
            failure = "disabled"
        elif user.locked_until is not None and user.locked_until > moment:
            failure = "locked"
        elif not password_ok or stored is None or stored.password_hash != user.password_hash:
            failure = "password"
        else:
            failure = None
        if failure is not None and user is None:
            _audit_self(
                conn,
                _audit_name(name),
                (),
                "auth.failed_login",
                "failed",
                detail=_joined(failure, where),
            )
        if user is not None and failure is not None:
            _record_failure(
                conn, user.username, tuple(user.roles), user.failed_logins, failure, moment, where
            )
        if failure is not None:
            token = None
            if client is not None and address and blocked is None:
                _count_client_failure(conn, client, address, moment)
        else:
            assert user is not None
            token = open_session(conn, user.username, now=moment)
            update_user(conn, user.username, failed_logins=[], locked_until=None)
            _audit_self(conn, user.username, user.roles, "auth.login", detail=where)
    if token is None:
        raise AuthenticationFailed()
    return token


def _joined(*parts: str | None) -> str:
    return ", ".join(p for p in parts if p)


def _count_client_failure(
    conn: Connection, client: ClientLimit, address: str, now: datetime
) -> None:
    """Count a failure against the client address; audit the block it may start."""
    until = record_client_failure(
        client.redis,
        address,
        now=now,
        window=FAILURE_WINDOW,
        limit=MAX_CLIENT_FAILURES,
        block_for=CLIENT_BLOCK,
    )
    if until is None:
        return
    record_audit(
        conn,
        AuditRecord(
            actor="system",
            action="auth.client_block",
            outcome="ok",
            target_type="client",
            target_id=address,
            after={"blocked_until": until.isoformat()},
            detail=f"{MAX_CLIENT_FAILURES} failed sign-ins within {FAILURE_WINDOW}",
        ),
    )


def _record_failure(
    conn: Connection,
    username: str,
    roles: tuple[str, ...],
    failures: tuple[datetime, ...],
    cause: str,
    now: datetime,
    where: str | None = None,
) -> None:
    """Count a failed sign-in of a known user; lock the account at the fifth within 5 min."""
    _audit_self(conn, username, roles, "auth.failed_login", "failed", detail=_joined(cause, where))
    if cause != "password":  # locked or disabled accounts do not extend their lock
        return
    recent = [t for t in failures if t > now - FAILURE_WINDOW] + [now]
    if len(recent) >= MAX_FAILURES:
        until = now + LOCK_DURATION
        update_user(conn, username, failed_logins=[], locked_until=until)
        _audit_self(
            conn,
            username,
            roles,
            "auth.lock",
            after={"locked_until": until.isoformat()},
            detail=f"{len(recent)} failed sign-ins within {FAILURE_WINDOW}",
        )
    else:
        update_user(conn, username, failed_logins=recent[-MAX_FAILURES:])


def count_wrong_password(conn: Connection, user: UserRow, *, now: datetime) -> None:
    """A wrong password given by a signed-in user (changing theirs): it counts toward the lock,
    as at sign-in, so a borrowed session cannot guess the password at bcrypt speed."""
    _record_failure(conn, user.username, tuple(user.roles), user.failed_logins, "password", now)


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
        _audit_self(conn, row.username, row.roles, "auth.logout")
    return True
