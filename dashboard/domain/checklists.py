"""Checklists as data: the spec, the period an item is due in, and done / due / overdue (pure)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

Cadence = Literal["daily", "weekly", "monthly", "quarterly", "deployment"]
ItemState = Literal["done", "due", "overdue"]
CADENCES: tuple[str, ...] = ("daily", "weekly", "monthly", "quarterly", "deployment")


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    auto: str | None = None


@dataclass(frozen=True)
class Checklist:
    id: str
    title: str
    cadence: Cadence
    items: tuple[Item, ...]


class ChecklistSpecError(ValueError):
    """The checklists file does not validate; the message says where."""


def parse_checklists(text: str, *, known_auto: frozenset[str]) -> tuple[Checklist, ...]:
    try:
        raw: Mapping[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ChecklistSpecError(f"checklists file is not TOML: {exc}") from None
    out: list[Checklist] = []
    for i, c in enumerate(raw.get("checklists", [])):
        where = f"checklist {i + 1} ({c.get('id', '?')})"
        if c.get("cadence") not in CADENCES:
            raise ChecklistSpecError(f"{where}: cadence must be one of {', '.join(CADENCES)}")
        items: list[Item] = []
        for it in c.get("items", []):
            auto = it.get("auto")
            if auto is not None and auto not in known_auto:
                raise ChecklistSpecError(f"{where}: unknown auto check {auto!r}")
            if not it.get("id") or not it.get("text"):
                raise ChecklistSpecError(f"{where}: every item needs an id and a text")
            items.append(Item(str(it["id"]), str(it["text"]), auto))
        if len({it.id for it in items}) != len(items):
            raise ChecklistSpecError(f"{where}: item ids repeat")
        out.append(
            Checklist(str(c["id"]), str(c.get("title", c["id"])), c["cadence"], tuple(items))
        )
    if len({c.id for c in out}) != len(out):
        raise ChecklistSpecError("checklist ids repeat")
    return tuple(out)


def period_key(cadence: str, at: datetime, *, deployment: str = "") -> str:
    """The period ``at`` falls in: 2026-12-03, 2026-W49, 2026-12, 2026-Q4, or the deployment."""
    d = at.date()
    if cadence == "daily":
        return d.isoformat()
    if cadence == "weekly":
        iso = d.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if cadence == "monthly":
        return f"{d.year}-{d.month:02d}"
    if cadence == "quarterly":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    if cadence == "deployment":
        return deployment or "current"
    raise ValueError(f"unknown cadence {cadence!r}")


def previous_period_start(cadence: str, at: datetime) -> date:
    """The first day of the period before the one ``at`` is in (daily .. quarterly)."""
    d = at.date()
    if cadence == "daily":
        return d - timedelta(days=1)
    if cadence == "weekly":
        return d - timedelta(days=d.weekday() + 7)
    if cadence == "monthly":
        return (d.replace(day=1) - timedelta(days=1)).replace(day=1)
    if cadence == "quarterly":
        q_first = d.replace(month=(d.month - 1) // 3 * 3 + 1, day=1)
        prev_last = q_first - timedelta(days=1)
        return prev_last.replace(month=(prev_last.month - 1) // 3 * 3 + 1, day=1)
    raise ValueError(f"no previous period for {cadence!r}")


def item_state(cadence: str, last_done: datetime | None, now: datetime) -> ItemState:
    """done in this period; due when done in the previous one; overdue when not even then."""
    if last_done is not None and period_key(cadence, last_done) == period_key(cadence, now):
        return "done"
    if cadence == "deployment":
        return "due"
    if last_done is not None and last_done.date() >= previous_period_start(cadence, now):
        return "due"
    return "overdue"
