"""Incident rules from the operations guide: severities and response times, the seven phases and
the moves between them, the response timer, postmortem completeness, MTTA/MTTR. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType


class Severity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


RESPONSE_TIME: Mapping[Severity, timedelta] = MappingProxyType(
    {
        Severity.P1: timedelta(minutes=15),
        Severity.P2: timedelta(hours=1),
        Severity.P3: timedelta(hours=4),
        Severity.P4: timedelta(weeks=1),
    }
)
"""The guide's response time per severity (Incident Response -> Severity Levels)."""

SEVERITY_TEXT: Mapping[Severity, str] = MappingProxyType(
    {
        Severity.P1: "Critical: service down, data loss",
        Severity.P2: "High: degraded performance",
        Severity.P3: "Medium: minor issue, workaround exists",
        Severity.P4: "Low: cosmetic, no impact",
    }
)

POSTMORTEM_REQUIRED = frozenset({Severity.P1, Severity.P2})


class Phase(StrEnum):
    """The guide's incident response process, in order."""

    DETECT = "detect"
    TRIAGE = "triage"
    COMMUNICATE = "communicate"
    INVESTIGATE = "investigate"
    MITIGATE = "mitigate"
    RESOLVE = "resolve"
    REVIEW = "review"


PHASES: tuple[Phase, ...] = tuple(Phase)

# Steps back the process allows: a mitigation that did not hold sends the team back to
# investigating, and so does a problem that comes back after it was resolved.
_BACK: Mapping[Phase, frozenset[Phase]] = MappingProxyType(
    {
        Phase.MITIGATE: frozenset({Phase.INVESTIGATE}),
        Phase.RESOLVE: frozenset({Phase.INVESTIGATE, Phase.MITIGATE}),
    }
)


def allowed_next(phase: Phase) -> tuple[Phase, ...]:
    """Phases an incident in ``phase`` may move to: any later one, or the steps back above."""
    later = PHASES[PHASES.index(phase) + 1 :]
    back = tuple(p for p in PHASES if p in _BACK.get(phase, frozenset()))
    return back + later


def can_move(current: Phase, to: Phase) -> bool:
    return to in allowed_next(current)


def close_problem(
    severity: Severity, phase: Phase, postmortem_missing: Sequence[str]
) -> str | None:
    """Why the incident may not close yet, or None when it may."""
    if severity in POSTMORTEM_REQUIRED:
        if phase != Phase.REVIEW:
            return f"A {severity} incident closes from the review phase (it is in {phase})."
        if postmortem_missing:
            return (
                f"A {severity} incident needs its postmortem before it closes; missing: "
                + ", ".join(postmortem_missing)
                + "."
            )
        return None
    if phase not in (Phase.RESOLVE, Phase.REVIEW):
        return f"An incident closes once it is resolved (it is in {phase})."
    return None


# ----------------------------------------------------------------------------- timer


@dataclass(frozen=True)
class Timer:
    """The response timer of one incident at ``now``.

    ``elapsed`` runs from the declaration until the response (acknowledgement) or ``now``;
    ``breached`` is True once it exceeded the severity's response time.
    """

    elapsed: timedelta
    limit: timedelta
    responded: bool

    @property
    def breached(self) -> bool:
        return self.elapsed > self.limit

    @property
    def remaining(self) -> timedelta:
        return self.limit - self.elapsed

    def label(self) -> str:
        if self.responded:
            verdict = "late" if self.breached else "in time"
            return f"responded after {format_duration(self.elapsed)} ({verdict})"
        if self.breached:
            return f"response overdue by {format_duration(self.elapsed - self.limit)}"
        return f"{format_duration(self.remaining)} left to respond"


def response_timer(
    severity: Severity, *, declared_at: datetime, acknowledged_at: datetime | None, now: datetime
) -> Timer:
    end = acknowledged_at if acknowledged_at is not None else now
    return Timer(
        elapsed=max(end - declared_at, timedelta(0)),
        limit=RESPONSE_TIME[severity],
        responded=acknowledged_at is not None,
    )


def format_duration(span: timedelta) -> str:
    seconds = int(max(span.total_seconds(), 0))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


# ----------------------------------------------------------------------------- MTTA / MTTR


@dataclass(frozen=True)
class IncidentTimes:
    """Mean time to acknowledge / resolve for the incidents of one severity, in seconds."""

    severity: str
    count: int
    mtta_s: float | None
    mttr_s: float | None


def summarize_times(
    rows: Iterable[tuple[str, datetime, datetime | None, datetime | None]],
) -> list[IncidentTimes]:
    """(severity, detected_at, acknowledged_at, resolved_at) rows -> one entry per severity.

    Every severity is listed (count 0 when none); the means ignore incidents not yet
    acknowledged / resolved.
    """
    acks: dict[str, list[float]] = {s.value: [] for s in Severity}
    fixes: dict[str, list[float]] = {s.value: [] for s in Severity}
    counts = dict.fromkeys(acks, 0)
    for severity, detected, acked, resolved in rows:
        counts[severity] = counts.get(severity, 0) + 1
        if acked is not None:
            acks.setdefault(severity, []).append(max((acked - detected).total_seconds(), 0.0))
        if resolved is not None:
            fixes.setdefault(severity, []).append(max((resolved - detected).total_seconds(), 0.0))

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    return [
        IncidentTimes(s, counts[s], mean(acks.get(s, [])), mean(fixes.get(s, [])))
        for s in sorted(counts)
    ]


# ----------------------------------------------------------------------------- postmortem


@dataclass(frozen=True)
class ActionItem:
    text: str
    owner: str
    due: date | None


@dataclass(frozen=True)
class Postmortem:
    summary: str = ""
    impact: str = ""
    root_cause: str = ""
    action_items: tuple[ActionItem, ...] = ()

    def missing(self) -> list[str]:
        """The parts still empty (what a P1/P2 close asks for)."""
        out = [
            name
            for name, value in (
                ("summary", self.summary),
                ("impact", self.impact),
                ("root cause", self.root_cause),
            )
            if not value.strip()
        ]
        if not self.action_items:
            out.append("action items")
        elif any(not i.owner.strip() or i.due is None for i in self.action_items):
            out.append("an owner and a due date for every action item")
        return out


_MD_SPECIAL = set("\\`*_{}[]()<>#+-.!|~>&")


def md_escape(value: object) -> str:
    """Untrusted text as literal Markdown: specials backslash-escaped, HTML brackets as
    entities, line breaks flattened so text cannot open a heading, list or table row."""
    out: list[str] = []
    for ch in " ".join(str(value).split()):
        if ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def md_block(value: object) -> str:
    """Untrusted multi-line text as literal Markdown: each line escaped as by :func:`md_escape`
    (so none can start a heading, list or table), line breaks kept as hard breaks."""
    lines = [md_escape(line) for line in str(value).splitlines()]
    return "  \n".join(lines).strip()
