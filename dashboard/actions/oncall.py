"""On-call actions: edit the rotation, add an override for a date range, cancel an override.

Through ``run_authorised`` like every change: permission from the one table, audit row in the
same transaction, the rotation's version guards against lost updates, and a repeated request
(same override already in place, rotation unchanged) is a 'noop'.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Connection, Engine

from dashboard.actions.base import (
    ActionResult,
    Actor,
    audit_change,
    clean_reason,
    now_utc,
    run_authorised,
)
from dashboard.data.oncall import (
    cancel_override as cancel_override_row,
)
from dashboard.data.oncall import (
    get_override_state,
    get_rotation,
    list_overrides,
    list_unknown_users,
    record_override,
    record_rotation,
)
from dashboard.domain.oncall import OnCallRole, Rotation, validate
from dashboard.domain.permissions import Role

ONCALL_TOPICS = ("oncall",)
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
MAX_OVERRIDE_DAYS = 92


def _users(values: Sequence[str], role: str) -> tuple[str, ...]:
    out = tuple(v.strip() for v in values if v and v.strip())
    for name in out:
        if not _USERNAME.match(name):
            raise ValueError(f"{name[:40]!r} in the {role} list is not a console username.")
    return out


def save_rotation(
    engine: Engine,
    actor: Actor,
    *,
    primary: Sequence[str],
    secondary: Sequence[str],
    manager: Sequence[str],
    handover_weekday: int,
    handover_hour: int,
    timezone: str,
    anchor: date,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> ActionResult:
    """Replace the rotation. ``expected_version`` is the version shown (0 when none existed)."""

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        try:
            rotation = Rotation(
                primary=_users(primary, "primary"),
                secondary=_users(secondary, "secondary"),
                manager=_users(manager, "manager"),
                handover_weekday=int(handover_weekday),
                handover_hour=int(handover_hour),
                timezone=str(timezone).strip(),
                anchor=anchor,
            )
            validate(rotation)
        except (ValueError, TypeError) as exc:
            return ActionResult("invalid", str(exc))
        unknown = list_unknown_users(
            conn, names=sorted({*rotation.primary, *rotation.secondary, *rotation.manager})
        )
        if unknown:
            return ActionResult(
                "invalid", "Not enabled console users: " + ", ".join(u[:40] for u in unknown)
            )
        stored = get_rotation(conn, for_update=True)
        version = stored.version if stored is not None else 0
        if expected_version is not None and version != expected_version:
            return ActionResult(
                "conflict", "Someone else changed the rotation since you opened it. Reload."
            )
        if stored is not None and stored.rotation == rotation:
            return ActionResult("noop", "The rotation is already like this.")
        record_rotation(
            conn, rotation=rotation, actor=actor.username, at=now_utc(now), version=version + 1
        )
        audit_change(
            conn,
            actor,
            roles,
            "oncall.edit_rotation",
            target=("oncall_rotation", "1"),
            before=None if stored is None else _describe(stored.rotation, version),
            after=_describe(rotation, version + 1),
        )
        return ActionResult("changed", "Rotation saved.", count=1)

    return run_authorised(
        engine,
        actor,
        "oncall.edit_rotation",
        body,
        target=("oncall_rotation", "1"),
        topics=ONCALL_TOPICS,
    )


def _describe(rotation: Rotation, version: int) -> dict[str, object]:
    return {
        "primary": list(rotation.primary),
        "secondary": list(rotation.secondary),
        "manager": list(rotation.manager),
        "weekday": rotation.handover_weekday,
        "hour": rotation.handover_hour,
        "timezone": rotation.timezone,
        "anchor": rotation.anchor.isoformat(),
        "version": version,
    }


def add_override(
    engine: Engine,
    actor: Actor,
    *,
    role: str,
    username: str,
    starts_at: datetime,
    ends_at: datetime,
    reason: str | None = None,
) -> ActionResult:
    """``username`` holds ``role`` from ``starts_at`` until ``ends_at`` (a date range)."""

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        try:
            which = OnCallRole(role)
        except ValueError:
            return ActionResult("invalid", "Choose primary, secondary or manager.")
        if not isinstance(username, str) or not _USERNAME.match(username.strip()):
            return ActionResult("invalid", "Choose a console username.")
        who = username.strip()
        if starts_at.tzinfo is None or ends_at.tzinfo is None:
            return ActionResult("invalid", "Times must carry a time zone.")
        if ends_at <= starts_at:
            return ActionResult("invalid", "The override must end after it starts.")
        if (ends_at - starts_at).days > MAX_OVERRIDE_DAYS:
            return ActionResult(
                "invalid", f"An override may last at most {MAX_OVERRIDE_DAYS} days."
            )
        try:
            why = clean_reason(reason, required=False)
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        if list_unknown_users(conn, names=[who]):
            return ActionResult("invalid", f"{who} is not an enabled console user.")
        # Serialise overrides through the rotation lock so a double submit is seen as one.
        get_rotation(conn, for_update=True)
        same = [
            o
            for o in list_overrides(conn, start=starts_at, end=ends_at)
            if o.override.role == which
            and o.override.username == who
            and o.override.starts_at == starts_at
            and o.override.ends_at == ends_at
        ]
        if same:
            return ActionResult("noop", "This override is already in place.")
        override_id = record_override(
            conn,
            role=which,
            username=who,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=why,
            actor=actor.username,
        )
        audit_change(
            conn,
            actor,
            roles,
            "oncall.override",
            target=("oncall_override", str(override_id)),
            reason=why,
            after={
                "role": which.value,
                "username": who,
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
            },
        )
        return ActionResult(
            "changed",
            f"{who} is {which} from {starts_at:%Y-%m-%d %H:%M} until {ends_at:%Y-%m-%d %H:%M}.",
            count=1,
        )

    return run_authorised(
        engine,
        actor,
        "oncall.override",
        body,
        target=("oncall_override", None),
        topics=ONCALL_TOPICS,
    )


def cancel_override(
    engine: Engine, actor: Actor, override_id: int, *, now: datetime | None = None
) -> ActionResult:
    """Cancel an override (kept, marked cancelled); repeating it changes nothing."""

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        if not isinstance(override_id, int) or isinstance(override_id, bool) or override_id < 1:
            return ActionResult("invalid", "An override id is a positive whole number.")
        exists = get_override_state(conn, override_id=override_id)
        if exists is None:
            return ActionResult("not_found", f"There is no override #{override_id}.")
        if not cancel_override_row(
            conn, override_id=override_id, actor=actor.username, at=now_utc(now)
        ):
            return ActionResult("noop", f"Override #{override_id} was already cancelled.")
        audit_change(
            conn,
            actor,
            roles,
            "oncall.cancel_override",
            target=("oncall_override", str(override_id)),
            after={"cancelled": True},
        )
        return ActionResult("changed", f"Override #{override_id} cancelled.", count=1)

    return run_authorised(
        engine,
        actor,
        "oncall.cancel_override",
        body,
        target=("oncall_override", str(override_id)),
        topics=ONCALL_TOPICS,
    )
