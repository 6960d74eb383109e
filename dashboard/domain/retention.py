"""Which backups to keep: 7 daily, 4 weekly, 12 monthly (grandfather-father-son), pure logic.

Periods are calendar periods in UTC counted back from ``now`` (the current one included): the
newest backup of each of the last ``daily`` days, of the last ``weekly`` ISO weeks and of the
last ``monthly`` months is kept; the newest backup overall always is. Everything else goes.
Because only the newest backup of a period is kept, applying the rule after every backup keeps
exactly what applying it once over the whole history would.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class RetentionPolicy:
    daily: int = 7
    weekly: int = 4
    monthly: int = 12

    def __post_init__(self) -> None:
        if min(self.daily, self.weekly, self.monthly) < 0:
            raise ValueError("retention counts must not be negative")


@dataclass(frozen=True)
class Retained:
    """The decision: ids to keep (with why) and ids to delete."""

    keep: dict[int, tuple[str, ...]]
    delete: tuple[int, ...]


def _day(at: datetime) -> date:
    return at.date()


def _week(at: datetime) -> tuple[int, int]:
    iso = at.isocalendar()
    return (iso.year, iso.week)


def _month(at: datetime) -> tuple[int, int]:
    return (at.year, at.month)


def _recent_periods(now: datetime, count: int, key: Callable[[datetime], Hashable]) -> list[object]:
    """The keys of the ``count`` most recent calendar periods up to ``now`` (newest first)."""
    keys: list[object] = []
    probe = now
    while len(keys) < count:
        k = key(probe)
        if not keys or keys[-1] != k:
            keys.append(k)
        probe -= timedelta(days=1)
    return keys


def select_retained(
    backups: Iterable[tuple[int, datetime]],
    *,
    now: datetime,
    policy: RetentionPolicy = RetentionPolicy(),
) -> Retained:
    """Decide over successful backups given as (id, finished_at); times must carry a zone."""
    items = sorted(backups, key=lambda b: (b[1], b[0]), reverse=True)
    for _, at in items:
        if at.tzinfo is None:
            raise ValueError("backup times must carry a time zone")
    keep: dict[int, list[str]] = {}
    rules: list[tuple[str, int, Callable[[datetime], Hashable]]] = [
        ("daily", policy.daily, _day),
        ("weekly", policy.weekly, _week),
        ("monthly", policy.monthly, _month),
    ]
    for label, count, key in rules:
        wanted = set(_recent_periods(now, count, key)) if count else set()
        seen: set[object] = set()
        for backup_id, at in items:  # newest first: the first seen in a period is its newest
            k = key(at)
            if k in wanted and k not in seen:
                seen.add(k)
                keep.setdefault(backup_id, []).append(label)
    if items:
        keep.setdefault(items[0][0], []).append("newest")
    delete = tuple(b for b, _ in items if b not in keep)
    return Retained(keep={k: tuple(v) for k, v in keep.items()}, delete=delete)
