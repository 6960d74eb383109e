"""The on-call rotation as arithmetic: who holds each role at a moment, hand-overs, overrides.

A rotation is an ordered list of users per role; the hand-over happens weekly on a local
weekday and hour in the rotation's time zone (so it follows daylight saving time: 09:00 local
stays 09:00 local). Weeks are counted on local calendar dates, never as 168-hour spans. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class OnCallRole(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    MANAGER = "manager"


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Rotation:
    """``anchor`` is the local date of a hand-over day on which list position 0 starts."""

    primary: tuple[str, ...] = ()
    secondary: tuple[str, ...] = ()
    manager: tuple[str, ...] = ()
    handover_weekday: int = 0  # Monday
    handover_hour: int = 9
    timezone: str = "UTC"
    anchor: date = date(2026, 1, 5)  # a Monday

    def users(self, role: OnCallRole) -> tuple[str, ...]:
        return {
            OnCallRole.PRIMARY: self.primary,
            OnCallRole.SECONDARY: self.secondary,
            OnCallRole.MANAGER: self.manager,
        }[role]


@dataclass(frozen=True)
class Override:
    role: OnCallRole
    username: str
    starts_at: datetime
    ends_at: datetime


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError with a plain message for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name[:60]!r} (use an IANA name like Europe/Paris)"
        ) from None


def validate(rotation: Rotation) -> None:
    """ValueError naming what is wrong with ``rotation``."""
    if not 0 <= rotation.handover_weekday <= 6:
        raise ValueError("the hand-over day is a weekday 0 (Monday) to 6 (Sunday)")
    if not 0 <= rotation.handover_hour <= 23:
        raise ValueError("the hand-over hour is 0 to 23")
    zone(rotation.timezone)
    for role in OnCallRole:
        users = rotation.users(role)
        if len(set(users)) != len(users):
            raise ValueError(f"the {role} list names someone twice")


def _handover_local(day: date, rotation: Rotation) -> datetime:
    return datetime.combine(day, time(rotation.handover_hour), tzinfo=zone(rotation.timezone))


def _first_handover_day(rotation: Rotation) -> date:
    shift = (rotation.handover_weekday - rotation.anchor.weekday()) % 7
    return rotation.anchor + timedelta(days=shift)


def shift_index(rotation: Rotation, at: datetime) -> int:
    """How many hand-overs have happened since the first one (negative before it)."""
    if at.tzinfo is None:
        raise ValueError("at must carry a time zone")
    first = _first_handover_day(rotation)
    local = at.astimezone(zone(rotation.timezone))
    # The latest hand-over day on or before the local date, then step back once if the
    # hand-over hour of that day has not come yet.
    back = (local.date().weekday() - rotation.handover_weekday) % 7
    day = local.date() - timedelta(days=back)
    if at < _handover_local(day, rotation):
        day -= timedelta(days=7)
    return (day - first).days // 7


def shift_bounds(rotation: Rotation, index: int) -> tuple[datetime, datetime]:
    """Start and end (aware, in the rotation's zone) of hand-over period ``index``."""
    first = _first_handover_day(rotation)
    start = _handover_local(first + timedelta(weeks=index), rotation)
    end = _handover_local(first + timedelta(weeks=index + 1), rotation)
    return start, end


def scheduled(rotation: Rotation, role: OnCallRole, at: datetime) -> str | None:
    users = rotation.users(role)
    if not users:
        return None
    return users[shift_index(rotation, at) % len(users)]


def on_call_at(
    rotation: Rotation, overrides: Iterable[Override], role: OnCallRole, at: datetime
) -> str | None:
    """The user holding ``role`` at ``at``: the latest matching override, else the rotation.

    ``overrides`` come in creation order; a later override wins over an earlier one.
    """
    chosen: str | None = None
    for o in overrides:
        if o.role == role and o.starts_at <= at < o.ends_at:
            chosen = o.username
    return chosen if chosen is not None else scheduled(rotation, role, at)


@dataclass(frozen=True)
class Shift:
    """One hand-over period of the calendar: who holds each role at its start."""

    starts_at: datetime
    ends_at: datetime
    primary: str | None
    secondary: str | None
    manager: str | None
    overridden: tuple[str, ...]  # roles with an override somewhere inside the period


def calendar(
    rotation: Rotation, overrides: Sequence[Override], *, start: datetime, weeks: int
) -> list[Shift]:
    """The hand-over periods from the one holding ``start`` on, ``weeks`` of them."""
    first = shift_index(rotation, start)
    out: list[Shift] = []
    for index in range(first, first + max(weeks, 0)):
        begins, ends = shift_bounds(rotation, index)
        probe = max(begins, start)
        touched = tuple(
            r.value
            for r in OnCallRole
            if any(o.role == r and o.starts_at < ends and o.ends_at > begins for o in overrides)
        )
        out.append(
            Shift(
                starts_at=begins,
                ends_at=ends,
                primary=on_call_at(rotation, overrides, OnCallRole.PRIMARY, probe),
                secondary=on_call_at(rotation, overrides, OnCallRole.SECONDARY, probe),
                manager=on_call_at(rotation, overrides, OnCallRole.MANAGER, probe),
                overridden=touched,
            )
        )
    return out
