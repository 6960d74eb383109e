"""The notification outbox: callers enqueue in their own transaction; the worker delivers.

:func:`enqueue_notification` is the seam other features call (alert transitions, escalation,
incident status updates). It writes one outbox row on the caller's connection, so the
notification commits or rolls back with the change that caused it, and a repeated
``dedupe_key`` adds nothing (one notification per transition, even with two workers).

A notification whose ``dedupe_key`` ends with ``:resolved`` is a resolution: PagerDuty-style
contact points get ``event_action: resolve``. A notification about one alert names it
(``alert_key``) and its ``event`` (trigger, acknowledge, resolve): PagerDuty-style contact
points use the alert key as their dedup_key, so an alert's trigger, acknowledge and resolve
pair up there; without an alert key the ``group_key`` is the dedup_key.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, text

SEVERITIES = ("P1", "P2", "warning", "info")
AUDIENCES = ("oncall", "secondary", "manager", "broadcast")
RESOLVED_SUFFIX = ":resolved"
EVENTS = ("trigger", "acknowledge", "resolve")

MAX_KEY = 500
MAX_SUBJECT = 300
MAX_BODY = 20_000


def is_resolution(dedupe_key: str) -> bool:
    """True for the notification of a resolution (its dedupe_key ends with ``:resolved``)."""
    return dedupe_key.endswith(RESOLVED_SUFFIX)


def _text(value: object, name: str, limit: int, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    if required and not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value[:limit]


def enqueue_notification(
    conn: Connection,
    *,
    dedupe_key: str,
    severity: str,
    group_key: str,
    subject: str,
    body: str,
    source: str,
    audience: str = "oncall",
    link: str | None = None,
    at: datetime | None = None,
    alert_key: str | None = None,
    event: str | None = None,
) -> bool:
    """Put one notification in the outbox on ``conn`` (the caller's transaction).

    Returns True when a row was added, False when ``dedupe_key`` was already there (nothing
    changes then). ``severity`` is P1/P2/warning/info, ``audience`` oncall/secondary/manager/
    broadcast; anything else is a ValueError. ``group_key`` groups a storm into one message
    per delivery cycle (use the rule id); ``at`` (timezone-aware) defaults to now.
    """
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}")
    if at is None:
        at = datetime.now(UTC)
    elif at.tzinfo is None:
        raise ValueError("at must carry a time zone")
    if link is not None and not isinstance(link, str):
        raise ValueError("link must be text")
    if event is None:
        event = "resolve" if is_resolution(dedupe_key) else "trigger"
    if event not in EVENTS:
        raise ValueError(f"event must be one of {', '.join(EVENTS)}")
    row = conn.execute(
        text(
            """INSERT INTO notification_outbox
                   (dedupe_key, severity, group_key, subject, body, source, audience, link,
                    created_at, alert_key, event)
               VALUES (:dedupe_key, :severity, :group_key, :subject, :body, :source, :audience,
                       :link, :at, :alert_key, :event)
               ON CONFLICT (dedupe_key) DO NOTHING
               RETURNING id"""
        ),
        {
            "dedupe_key": _text(dedupe_key, "dedupe_key", MAX_KEY),
            "severity": severity,
            "group_key": _text(group_key, "group_key", MAX_KEY),
            "subject": _text(subject, "subject", MAX_SUBJECT),
            "body": _text(body, "body", MAX_BODY, required=False),
            "source": _text(source, "source", 100),
            "audience": audience,
            "link": link[:2000] if link else None,
            "at": at,
            "alert_key": _text(alert_key, "alert_key", MAX_KEY) if alert_key else None,
            "event": event,
        },
    ).first()
    return row is not None
