"""Server-side sessions: open one, and the one check that decides whether a session is live."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from dashboard.db.auth_store import SessionRow, get_session, insert_session, revoke_session
from dashboard.domain.permissions import Role, known_roles

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
# last_seen_at is written at most this often, so page reruns do not each cost a write.
TOUCH_EVERY = timedelta(seconds=60)


def session_id_of(token: str) -> str:
    """The stored id of a session token (sha256 hex), so a database leak holds no tokens."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def session_problem(row: SessionRow, *, now: datetime) -> str | None:
    """Why a session is no longer valid ('revoked', 'idle', 'expired', 'disabled'), or None."""
    if row.revoked_at is not None:
        return "revoked"
    if row.disabled:
        return "disabled"
    if row.sessions_valid_after is not None and row.created_at < row.sessions_valid_after:
        return "revoked"
    if now >= row.expires_at or now >= row.created_at + ABSOLUTE_TIMEOUT:
        return "expired"
    if now >= row.last_seen_at + IDLE_TIMEOUT:
        return "idle"
    return None


@dataclass(frozen=True)
class LiveSession:
    """A session that passed :func:`live_session`, with its user's roles as stored now."""

    session_id: str
    username: str
    roles: tuple[Role, ...]
    last_seen_at: datetime


def live_session(conn: Connection, session_id: str, *, now: datetime) -> LiveSession | None:
    """The session ``session_id`` if it is live at ``now``, else None (marked revoked on the way).

    The one session check: sign-in's page loads, page gating and every authorised action
    come through here. Live means not revoked, not idle past 30 min, not past 12 h, and the
    user neither disabled nor told to sign in again since. Unknown role names grant nothing.
    """
    row = get_session(conn, session_id)
    if row is None:
        return None
    problem = session_problem(row, now=now)
    if problem is not None:
        if row.revoked_at is None:
            revoke_session(conn, row.id, now=now, reason=problem)
        return None
    return LiveSession(row.id, row.username, known_roles(row.roles), row.last_seen_at)


def open_session(conn: Connection, username: str, *, now: datetime) -> str:
    """Create a session for ``username`` in the caller's transaction; return its new token."""
    token = secrets.token_urlsafe(32)
    insert_session(
        conn,
        session_id=session_id_of(token),
        username=username,
        now=now,
        expires_at=now + ABSOLUTE_TIMEOUT,
    )
    return token
