"""On-call rotation and overrides in PostgreSQL; :func:`get_on_call` says who holds each role.

The interface other features call (escalation, notifications, the header) is ``get_on_call``.
The rotation is one row; with none stored yet nobody is on call (every role None).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from dashboard.data.cache import register
from dashboard.domain.oncall import OnCallRole, Override, Rotation, on_call_at

_EPSILON = timedelta(microseconds=1)


@dataclass(frozen=True)
class OnCall:
    """Usernames holding each role at one moment (None when the role is unstaffed)."""

    primary: str | None
    secondary: str | None
    manager: str | None


@dataclass(frozen=True)
class StoredRotation:
    rotation: Rotation
    version: int
    updated_by: str | None
    updated_at: datetime | None


@dataclass(frozen=True)
class StoredOverride:
    id: int
    override: Override
    reason: str | None
    created_by: str
    created_at: datetime


def _rotation(row: Any) -> Rotation:
    return Rotation(
        primary=tuple(row["primary_users"]),
        secondary=tuple(row["secondary_users"]),
        manager=tuple(row["manager_users"]),
        handover_weekday=int(row["handover_weekday"]),
        handover_hour=int(row["handover_hour"]),
        timezone=str(row["timezone"]),
        anchor=row["anchor"],
    )


def get_rotation(conn: Connection, *, for_update: bool = False) -> StoredRotation | None:
    sql = "SELECT * FROM oncall_rotation WHERE id = 1"
    if for_update:
        sql = "SELECT * FROM oncall_rotation WHERE id = 1 FOR UPDATE"
    row = conn.execute(text(sql)).mappings().first()
    if row is None:
        return None
    return StoredRotation(_rotation(row), int(row["version"]), row["updated_by"], row["updated_at"])


def record_rotation(
    conn: Connection, *, rotation: Rotation, actor: str, at: datetime, version: int
) -> None:
    """Insert or replace the rotation row (the caller checked the version under its lock)."""
    conn.execute(
        text(
            """INSERT INTO oncall_rotation AS r (id, primary_users, secondary_users,
                   manager_users, handover_weekday, handover_hour, timezone, anchor,
                   updated_by, updated_at, version)
               VALUES (1, :p, :s, :m, :wd, :hr, :tz, :anchor, :by, :at, :v)
               ON CONFLICT (id) DO UPDATE SET primary_users = :p, secondary_users = :s,
                   manager_users = :m, handover_weekday = :wd, handover_hour = :hr,
                   timezone = :tz, anchor = :anchor, updated_by = :by, updated_at = :at,
                   version = :v"""
        ),
        {
            "p": list(rotation.primary),
            "s": list(rotation.secondary),
            "m": list(rotation.manager),
            "wd": rotation.handover_weekday,
            "hr": rotation.handover_hour,
            "tz": rotation.timezone,
            "anchor": rotation.anchor,
            "by": actor,
            "at": at,
            "v": version,
        },
    )


def list_overrides(conn: Connection, *, start: datetime, end: datetime) -> list[StoredOverride]:
    """Live (not cancelled) overrides overlapping [start, end), in creation order."""
    rows = conn.execute(
        text(
            """SELECT * FROM oncall_overrides
               WHERE cancelled_at IS NULL AND starts_at < :end AND ends_at > :start
               ORDER BY created_at, id LIMIT 1000"""
        ),
        {"start": start, "end": end},
    ).mappings()
    return [
        StoredOverride(
            id=int(r["id"]),
            override=Override(
                OnCallRole(r["role"]), str(r["username"]), r["starts_at"], r["ends_at"]
            ),
            reason=r["reason"],
            created_by=str(r["created_by"]),
            created_at=r["created_at"],
        )
        for r in rows
    ]


def record_override(
    conn: Connection,
    *,
    role: OnCallRole,
    username: str,
    starts_at: datetime,
    ends_at: datetime,
    reason: str | None,
    actor: str,
) -> int:
    return int(
        conn.execute(
            text(
                """INSERT INTO oncall_overrides (role, username, starts_at, ends_at, reason,
                       created_by, created_at)
                   VALUES (:role, :u, :s, :e, :reason, :by, clock_timestamp())
                   RETURNING id"""
            ),
            {
                "role": role.value,
                "u": username,
                "s": starts_at,
                "e": ends_at,
                "reason": reason,
                "by": actor,
            },
        ).scalar_one()
    )


def cancel_override(conn: Connection, *, override_id: int, actor: str, at: datetime) -> bool:
    """Cancel a live override; False when it does not exist or was already cancelled."""
    done = conn.execute(
        text(
            """UPDATE oncall_overrides SET cancelled_at = :at, cancelled_by = :by
               WHERE id = :id AND cancelled_at IS NULL"""
        ),
        {"id": override_id, "at": at, "by": actor},
    ).rowcount
    return bool(done)


def get_on_call(conn: Connection, *, at: datetime) -> OnCall:
    """Who is primary, secondary and manager at ``at``: the rotation plus live overrides."""
    if at.tzinfo is None:
        raise ValueError("at must carry a time zone")
    stored = get_rotation(conn)
    rotation = stored.rotation if stored is not None else Rotation()
    overrides = [o.override for o in list_overrides(conn, start=at, end=at + _EPSILON)]
    return OnCall(
        primary=on_call_at(rotation, overrides, OnCallRole.PRIMARY, at),
        secondary=on_call_at(rotation, overrides, OnCallRole.SECONDARY, at),
        manager=on_call_at(rotation, overrides, OnCallRole.MANAGER, at),
    )


def list_unknown_users(conn: Connection, *, names: Sequence[str]) -> list[str]:
    """The names among ``names`` that are not enabled console users (in the given order)."""
    if not names:
        return []
    found = set(
        conn.execute(
            text("SELECT username FROM users WHERE username = ANY(:n) AND NOT disabled"),
            {"n": list(names)},
        ).scalars()
    )
    return [n for n in names if n not in found]


def list_user_choices(conn: Connection) -> list[str]:
    """Enabled users who may hold an on-call role (oncall, admin or manager), by name."""
    return list(
        conn.execute(
            text(
                """SELECT username FROM users WHERE NOT disabled
                   AND roles && ARRAY['oncall', 'admin', 'manager']::text[]
                   ORDER BY username LIMIT 500"""
            )
        ).scalars()
    )


def get_override_state(conn: Connection, *, override_id: int) -> bool | None:
    """Locks the override; True when cancelled, False when live, None when there is none."""
    value = conn.execute(
        text("SELECT cancelled_at IS NOT NULL FROM oncall_overrides WHERE id = :id FOR UPDATE"),
        {"id": override_id},
    ).scalar()
    return None if value is None else bool(value)


for _cls in (OnCall, StoredRotation, StoredOverride, Rotation, Override):
    register(_cls)  # shared-cache values of the On-call page and the header
