"""Notification rules without I/O: routing by severity, business hours, grouping, back-off, masks.

Routing (the guide: "P1 page immediately", "P2 business hours response"):

* P1 goes at once to the contact points of its audience and to every broadcast channel.
* P2 goes to the same places, but only inside business hours; outside them it is held in the
  outbox and released when the hours start (grouped with whatever else was held).
* warning and info go to broadcast channels only (Slack and the like), at once, and never
  page a person: a warning is something to look at, not something to wake someone for.
* audience "broadcast" means broadcast channels only, whatever the severity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

SEVERITY_RANK = {"P1": 0, "P2": 1, "warning": 2, "info": 3}
PERSON_AUDIENCES = ("oncall", "secondary", "manager")
BROADCAST = "broadcast"


@dataclass(frozen=True)
class BusinessHours:
    """Working hours in one time zone: ``days`` are ISO weekdays (1 = Monday)."""

    tz: str = "UTC"
    start: time = time(9, 0)
    end: time = time(17, 0)
    days: frozenset[int] = frozenset({1, 2, 3, 4, 5})

    def __post_init__(self) -> None:
        ZoneInfo(self.tz)  # an unknown zone fails here, loudly, at configuration time
        if not self.start < self.end:
            raise ValueError("business hours must start before they end")
        if not self.days or not self.days <= set(range(1, 8)):
            raise ValueError("business days are ISO weekdays 1 (Monday) to 7 (Sunday)")

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.tz))
        return local.isoweekday() in self.days and self.start <= local.time() < self.end

    def next_start(self, at: datetime) -> datetime:
        """The next moment business hours begin (``at`` itself when inside them)."""
        if self.contains(at):
            return at
        zone = ZoneInfo(self.tz)
        local = at.astimezone(zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            candidate = datetime.combine(day, self.start, tzinfo=zone)
            if day.isoweekday() in self.days and candidate > local:
                return candidate.astimezone(at.tzinfo)
        raise AssertionError("no business day in a week")  # pragma: no cover - days non-empty


def parse_business_days(text: str) -> frozenset[int]:
    """ "1-5" or "1,2,3,4,5" or "mon-fri" -> ISO weekdays; ValueError names what is wrong."""
    names = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}

    def one(token: str) -> int:
        token = token.strip().lower()[:3]
        if token in names:
            return names[token]
        if token.isdigit() and 1 <= int(token) <= 7:
            return int(token)
        raise ValueError(f"unknown weekday {token!r}: use 1-7 or mon..sun")

    days: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            lo, hi = (one(p) for p in part.split("-", 1))
            if lo > hi:
                raise ValueError(f"weekday range {part.strip()!r} runs backwards")
            days.update(range(lo, hi + 1))
        elif part.strip():
            days.add(one(part))
    if not days:
        raise ValueError("no business days given")
    return frozenset(days)


def is_held(severity: str, at: datetime, hours: BusinessHours) -> bool:
    """True when a notification of ``severity`` must wait for business hours at ``at``."""
    return severity == "P2" and not hours.contains(at)


def target_audiences(severity: str, audience: str) -> frozenset[str]:
    """Which contact-point audiences a notification reaches (see the module docstring)."""
    if audience == BROADCAST or severity not in ("P1", "P2"):
        return frozenset({BROADCAST})
    return frozenset({audience, BROADCAST})


def worst_severity(severities: Sequence[str]) -> str:
    return min(severities, key=lambda s: SEVERITY_RANK.get(s, 99))


def backoff_s(attempts: int, *, base_s: float, cap_s: float) -> float:
    """Seconds before the next try after ``attempts`` failed ones: base * 2^(n-1), capped."""
    return float(min(cap_s, base_s * (2 ** max(0, attempts - 1))))


def is_retryable(status_code: int | None) -> bool:
    """Transport failures, 408, 429 and 5xx are worth another try; other 4xx are not."""
    if status_code is None:
        return True
    return status_code in (408, 429) or status_code >= 500


def mask_secret(secret: str) -> str:
    """What the console shows of a stored secret: its length class and last 4 characters."""
    if not secret:
        return "(none)"
    if len(secret) < 12:
        return "•••• (set)"
    return f"••••{secret[-4:]}"


@dataclass(frozen=True)
class GroupedMessage:
    """One message made of a cycle's outbox rows that share a group_key and audience."""

    group_key: str
    audience: str
    severity: str
    event: str  # "trigger" or "resolve": the latest transition decides
    subject: str
    body: str
    link: str | None
    row_ids: tuple[int, ...]


@dataclass(frozen=True)
class OutboxItem:
    id: int
    dedupe_key: str
    severity: str
    group_key: str
    subject: str
    body: str
    audience: str
    link: str | None
    created_at: datetime
    resolved: bool


MAX_LISTED = 10


def group_items(items: Sequence[OutboxItem]) -> list[GroupedMessage]:
    """Fold the rows of one cycle into one message per (group_key, audience), oldest first."""
    groups: dict[tuple[str, str], list[OutboxItem]] = {}
    for item in sorted(items, key=lambda i: (i.created_at, i.id)):
        groups.setdefault((item.group_key, item.audience), []).append(item)
    messages: list[GroupedMessage] = []
    for (group_key, audience), rows in groups.items():
        latest = rows[-1]
        if len(rows) == 1:
            subject, body = latest.subject, latest.body
        else:
            subject = f"{latest.subject} (+{len(rows) - 1} more)"
            lines = [f"{len(rows)} notifications for {group_key}; latest first:"]
            for row in reversed(rows[-MAX_LISTED:]):
                lines.append(f"- {row.created_at:%Y-%m-%d %H:%M:%S %Z} {row.subject}")
            if len(rows) > MAX_LISTED:
                lines.append(f"- ... and {len(rows) - MAX_LISTED} earlier")
            lines.append("")
            lines.append(latest.body)
            body = "\n".join(lines)
        messages.append(
            GroupedMessage(
                group_key=group_key,
                audience=audience,
                severity=worst_severity([r.severity for r in rows]),
                event="resolve" if latest.resolved else "trigger",
                subject=subject,
                body=body,
                link=latest.link,
                row_ids=tuple(r.id for r in rows),
            )
        )
    return messages
