"""Component status rules: which live reading is fresh, worst-first order, overall = worst."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LIVE_FRESH_FOR_S = 300.0
"""Live probe results older than this are not trusted; the newest stored checks are used."""

_RANK = {"down": 0, "degraded": 1, "up": 2}
_OVERALL = {"down": "Down", "degraded": "Degraded", "up": "Healthy"}


@dataclass(frozen=True)
class ComponentState:
    """One component's latest check. status: up / degraded / down, or None when unknown.

    message is untrusted text from the probed service.
    """

    label: str
    status: str | None
    latency_ms: float | None = None
    message: str | None = None


@dataclass(frozen=True)
class StatusBoard:
    """Every component, worst first; overall is the worst status; source says where from."""

    components: tuple[ComponentState, ...]
    overall: str | None
    overall_label: str
    source: str


def is_fresh(age_s: float | None, *, fresh_for_s: float = LIVE_FRESH_FOR_S) -> bool:
    """Whether a live reading of this age may be shown as current."""
    return age_s is not None and age_s < fresh_for_s


def rank(status: str | None) -> int:
    """0 for down, 1 degraded, 2 up, 3 unknown: sorting by it puts the worst first."""
    return _RANK.get(status or "", 3)


def board(states: Iterable[ComponentState], *, source: str) -> StatusBoard:
    """Order ``states`` worst first (then by label); the overall status is the worst one."""
    ordered = tuple(sorted(states, key=lambda s: (rank(s.status), s.label)))
    worst = ordered[0].status if ordered else None
    return StatusBoard(
        components=ordered,
        overall=worst,
        overall_label=_OVERALL.get(worst or "", "Unknown"),
        source=source,
    )
