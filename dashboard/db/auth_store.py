"""SQL for users, server-side sessions and the audit log: small functions, connection first.

Callers own the transaction (``with engine.begin() as conn``), so a change and its audit row
commit together. Nothing here decides who may do what; dashboard.actions does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, RowMapping, Table, func, insert, select, update

from dashboard.db.auth_models import AuditEntry, User, UserSession

MAX_AUDIT_TEXT = 2000
MAX_AUDIT_NAME = 128

_users = cast(Table, User.__table__)
_sessions = cast(Table, UserSession.__table__)
_audit = cast(Table, AuditEntry.__table__)


def _clip(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _jsonable(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A plain JSON object (dates and other odd values as text), or None."""
    if value is None:
        return None
    loaded: dict[str, Any] = json.loads(json.dumps(dict(value), default=str))
    return loaded


@dataclass(frozen=True)
class AuditRecord:
    """One audit row to write (``at`` comes from the database clock)."""

    actor: str
    action: str
    outcome: str
    actor_roles: tuple[str, ...] = ()
    target_type: str | None = None
    target_id: str | None = None
    reason: str | None = None
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    detail: str | None = None

    def values(self) -> dict[str, Any]:
        return {
            "actor": _clip(self.actor, MAX_AUDIT_NAME) or "?",
            "actor_roles": list(self.actor_roles),
            "action": self.action,
            "outcome": self.outcome,
            "target_type": _clip(self.target_type, MAX_AUDIT_NAME),
            "target_id": _clip(self.target_id, MAX_AUDIT_NAME),
            "reason": _clip(self.reason, MAX_AUDIT_TEXT),
            "before": _jsonable(self.before),
            "after": _jsonable(self.after),
            "detail": _clip(self.detail, MAX_AUDIT_TEXT),
        }


def record_audit(conn: Connection, record: AuditRecord) -> int:
    """Append one audit row in the caller's transaction; returns its id."""
    row_id = conn.execute(
        insert(_audit).values(**record.values()).returning(_audit.c.id)
    ).scalar_one()
    return int(row_id)


def record_audit_many(conn: Connection, records: Iterable[AuditRecord]) -> int:
    """Append many audit rows in one round trip per batch; returns how many."""
    rows = [r.values() for r in records]
    if rows:
        conn.execute(insert(_audit), rows)
    return len(rows)


@dataclass(frozen=True)
class AuditQuery:
    """Filters over the audit log; None means any. ``action`` ending in '.' is a prefix."""

    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None


def select_audit(conn: Connection, query: AuditQuery, *, limit: int) -> list[dict[str, Any]]:
    """Audit rows matching ``query``, newest first (keyset on id), at most ``limit``."""
    stmt = select(_audit).order_by(_audit.c.id.desc()).limit(limit)
    if query.actor is not None:
        stmt = stmt.where(_audit.c.actor == query.actor)
    if query.action is not None:
        if query.action.endswith("."):
            stmt = stmt.where(_audit.c.action.startswith(query.action, autoescape=True))
        else:
            stmt = stmt.where(_audit.c.action == query.action)
    if query.target_type is not None:
        stmt = stmt.where(_audit.c.target_type == query.target_type)
    if query.target_id is not None:
        stmt = stmt.where(_audit.c.target_id == query.target_id)
    if query.since is not None:
        stmt = stmt.where(_audit.c.at >= query.since)
    if query.until is not None:
        stmt = stmt.where(_audit.c.at < query.until)
    if query.before_id is not None:
        stmt = stmt.where(_audit.c.id < query.before_id)
    return [dict(r) for r in conn.execute(stmt).mappings()]


@dataclass(frozen=True)
class UserRow:
    """A user as stored (including the password hash: never hand this to the UI)."""

    id: int
    username: str
    display_name: str
    email: str | None
    password_hash: str
    roles: tuple[str, ...]
    disabled: bool
    failed_logins: tuple[datetime, ...]
    locked_until: datetime | None
    sessions_valid_after: datetime | None
    password_changed_at: datetime
    created_at: datetime
    updated_at: datetime


def _user(row: Mapping[str, Any] | RowMapping) -> UserRow:
    data = dict(row)
    data["roles"] = tuple(data["roles"] or ())
    data["failed_logins"] = tuple(data["failed_logins"] or ())
    return UserRow(**data)


def get_user(conn: Connection, username: str, *, for_update: bool = False) -> UserRow | None:
    stmt = select(_users).where(_users.c.username == username)
    if for_update:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    return _user(row) if row is not None else None


def list_users(conn: Connection) -> list[UserRow]:
    return [_user(r) for r in conn.execute(select(_users).order_by(_users.c.username)).mappings()]


def last_sign_ins(conn: Connection) -> dict[str, datetime]:
    """Each user's latest session start (a sign-in), for users who ever signed in."""
    stmt = select(_sessions.c.username, func.max(_sessions.c.created_at)).group_by(
        _sessions.c.username
    )
    return {str(name): at for name, at in conn.execute(stmt)}


def count_users(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(_users)).scalar_one())


def insert_user(
    conn: Connection,
    *,
    username: str,
    display_name: str,
    email: str | None,
    password_hash: str,
    roles: Sequence[str],
) -> int:
    row_id = conn.execute(
        insert(_users)
        .values(
            username=username,
            display_name=display_name,
            email=email,
            password_hash=password_hash,
            roles=list(roles),
        )
        .returning(_users.c.id)
    ).scalar_one()
    return int(row_id)


def update_user(conn: Connection, username: str, **values: Any) -> bool:
    """Set columns of one user (updated_at too); False when there is no such user."""
    result = conn.execute(
        update(_users)
        .where(_users.c.username == username)
        .values(**values, updated_at=func.now())
        .returning(_users.c.id)
    )
    return result.first() is not None


def enabled_admins(conn: Connection, *, for_update: bool = False) -> list[str]:
    """Usernames of enabled users holding the admin role (locked, to guard the last admin)."""
    stmt = (
        select(_users.c.username)
        .where(_users.c.roles.any_() == "admin", _users.c.disabled.is_(False))
        .order_by(_users.c.username)
    )
    if for_update:
        stmt = stmt.with_for_update()
    return [str(u) for u in conn.execute(stmt).scalars()]


@dataclass(frozen=True)
class SessionRow:
    """A session joined with its user's current state."""

    id: str
    username: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    roles: tuple[str, ...]
    disabled: bool
    sessions_valid_after: datetime | None


def insert_session(
    conn: Connection, *, session_id: str, username: str, now: datetime, expires_at: datetime
) -> None:
    conn.execute(
        insert(_sessions).values(
            id=session_id,
            username=username,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
    )


def get_session(conn: Connection, session_id: str) -> SessionRow | None:
    stmt = (
        select(
            _sessions.c.id,
            _sessions.c.username,
            _sessions.c.created_at,
            _sessions.c.last_seen_at,
            _sessions.c.expires_at,
            _sessions.c.revoked_at,
            _users.c.roles,
            _users.c.disabled,
            _users.c.sessions_valid_after,
        )
        .join(_users, _users.c.username == _sessions.c.username)
        .where(_sessions.c.id == session_id)
    )
    row = conn.execute(stmt).mappings().first()
    if row is None:
        return None
    data = dict(row)
    data["roles"] = tuple(data["roles"] or ())
    return SessionRow(**data)


def touch_session(conn: Connection, session_id: str, now: datetime) -> None:
    conn.execute(
        update(_sessions)
        .where(_sessions.c.id == session_id, _sessions.c.last_seen_at < now)
        .values(last_seen_at=now)
    )


def revoke_session(conn: Connection, session_id: str, *, now: datetime, reason: str) -> bool:
    """Revoke one live session; False when it was unknown or already revoked."""
    result = conn.execute(
        update(_sessions)
        .where(_sessions.c.id == session_id, _sessions.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .returning(_sessions.c.id)
    )
    return result.first() is not None


def revoke_user_sessions(
    conn: Connection, username: str, *, now: datetime, reason: str, keep: str | None = None
) -> int:
    """Revoke every live session of one user (but ``keep``, a session id); how many."""
    stmt = update(_sessions).where(
        _sessions.c.username == username, _sessions.c.revoked_at.is_(None)
    )
    if keep is not None:
        stmt = stmt.where(_sessions.c.id != keep)
    result = conn.execute(
        stmt.values(revoked_at=now, revoked_reason=reason).returning(_sessions.c.id)
    )
    return len(result.fetchall())
