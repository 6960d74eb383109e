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
    event: str  # "trigger", "acknowledge" or "resolve": the latest row decides
    subject: str
    body: str
    link: str | None
    row_ids: tuple[int, ...]
    #: Each alert's latest event in this message, oldest first: (alert_key, event, subject).
    alerts: tuple[tuple[str, str, str], ...] = ()


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
    alert_key: str | None = None
    event: str = ""  # "" = from ``resolved`` (resolve, else trigger)

    @property
    def action(self) -> str:
        return self.event or ("resolve" if self.resolved else "trigger")


MAX_LISTED = 10


def group_items(items: Sequence[OutboxItem]) -> list[GroupedMessage]:
    """Fold the rows of one cycle into one message per (group_key, audience), oldest first.

    Acknowledgements form messages of their own (they go to PagerDuty-style points only),
    so they never turn a rule's firing message into an acknowledgement.
    """
    groups: dict[tuple[str, str, bool], list[OutboxItem]] = {}
    for item in sorted(items, key=lambda i: (i.created_at, i.id)):
        acked = item.action == "acknowledge"
        groups.setdefault((item.group_key, item.audience, acked), []).append(item)
    messages: list[GroupedMessage] = []
    for (group_key, audience, _), rows in groups.items():
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
                event=latest.action,
                subject=subject,
                body=body,
                link=latest.link,
                row_ids=tuple(r.id for r in rows),
                alerts=_latest_per_alert(rows),
            )
        )
    return messages


def _latest_per_alert(rows: Sequence[OutboxItem]) -> tuple[tuple[str, str, str], ...]:
    latest: dict[str, tuple[str, str, str]] = {}
    for row in rows:  # oldest first: a later event of the same alert replaces the earlier
        if row.alert_key:
            latest.pop(row.alert_key, None)
            latest[row.alert_key] = (row.alert_key, row.action, row.subject)
    return tuple(latest.values())


# -- contact point input ------------------------------------------------------------------

CONTACT_KINDS = ("webhook", "slack", "pagerduty", "email")
KIND_LABELS = {
    "webhook": "Generic JSON webhook",
    "slack": "Slack-compatible incoming webhook",
    "pagerduty": "PagerDuty Events API v2",
    "email": "E-mail (SMTP)",
}
SECRET_LABELS = {
    "webhook": "Webhook URL",
    "slack": "Incoming webhook URL",
    "pagerduty": "Integration (routing) key",
    "email": "SMTP password (blank: no login)",
}
ALL_AUDIENCES = ("oncall", "secondary", "manager", "broadcast")


@dataclass(frozen=True)
class ContactPointInput:
    """Checked input for a contact point; ``secret`` None means "keep the stored one"."""

    name: str
    kind: str
    audiences: tuple[str, ...]
    config: dict[str, object]
    secret: str | None


def _is_http_url(value: str) -> bool:
    return value.startswith(("http://", "https://")) and len(value) > len("https://x")


def check_contact_point(
    *,
    name: object,
    kind: object,
    audiences: Sequence[object],
    config: dict[str, object],
    secret: object,
    creating: bool,
) -> ContactPointInput:
    """Validate what an admin typed; ValueError with a message fit for the page."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("Give the contact point a name.")
    name = name.strip()
    if len(name) > 80 or not name.isprintable():
        raise ValueError("The name may have at most 80 printable characters.")
    if kind not in CONTACT_KINDS:
        raise ValueError(f"The kind must be one of {', '.join(CONTACT_KINDS)}.")
    auds = tuple(a for a in ALL_AUDIENCES if a in {str(x) for x in audiences})
    if len(auds) != len(set(map(str, audiences))):
        raise ValueError(f"Audiences are {', '.join(ALL_AUDIENCES)}.")
    if not auds:
        raise ValueError("Pick at least one audience (who this contact point speaks for).")
    if secret is not None and not isinstance(secret, str):
        raise ValueError("The secret must be text.")
    secret_text = (secret or "").strip()
    keep = not secret_text and not creating
    clean: dict[str, object] = {}
    if kind in ("webhook", "slack"):
        if not keep and not _is_http_url(secret_text):
            raise ValueError("The webhook URL must start with http:// or https://.")
    elif kind == "pagerduty":
        if not keep and not secret_text:
            raise ValueError("The PagerDuty integration (routing) key is required.")
        url = str(config.get("url") or "").strip()
        if url and not _is_http_url(url):
            raise ValueError("The events URL must start with http:// or https://.")
        if url:
            clean["url"] = url
    else:
        host = str(config.get("host") or "").strip()
        if not host or any(c.isspace() for c in host):
            raise ValueError("The SMTP host is required.")
        try:
            port = int(str(config.get("port") or 25))
        except ValueError:
            raise ValueError("The SMTP port is a whole number.") from None
        if not 1 <= port <= 65535:
            raise ValueError("The SMTP port is between 1 and 65535.")
        to = [a.strip() for a in str(config.get("to") or "").split(",") if a.strip()]
        for addr in [*to, str(config.get("from_addr") or "x@y")]:
            if "@" not in addr or any(c.isspace() or c in "<>\r\n" for c in addr):
                raise ValueError(f"Not an e-mail address: {addr[:60]!r}.")
        clean.update(
            host=host,
            port=port,
            to=", ".join(to),
            from_addr=str(config.get("from_addr") or "").strip(),
            starttls=bool(config.get("starttls")),
            username=str(config.get("username") or "").strip(),
        )
    if len(secret_text) > 2000:
        raise ValueError("The secret is too long.")
    return ContactPointInput(name, str(kind), auds, clean, None if keep else secret_text)
