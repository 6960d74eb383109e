"""The delivery job: outbox -> grouped messages -> one delivery per contact point, with retries.

Runs on the leader only (the worker's advisory lock); even so, planning and sending are safe
with two workers at once (see ``dashboard.data.notify_store``). One cycle plans, then sends
due deliveries one transaction each until none is due or the cycle deadline is spent; a peer
that hangs costs one send deadline and the cycle moves on to the next delivery.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as dtime
from typing import Any

from opentelemetry.trace import Status, StatusCode
from sqlalchemy import Connection, Engine

from dashboard import telemetry
from dashboard.data import notify_store as store
from dashboard.domain.notify_rules import BusinessHours, parse_business_days
from dashboard.integrations.notify_senders import Outgoing, SendResult, Timeouts
from dashboard.settings import Settings, get_settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _clock() -> datetime:
    return datetime.now(UTC)


def _hhmm(value: str, name: str) -> dtime:
    try:
        hour, minute = (int(p) for p in value.strip().split(":", 1))
        return dtime(hour, minute)
    except ValueError:
        raise ValueError(f"{name} must be HH:MM (got {value[:20]!r})") from None


def business_hours(settings: Settings | None = None) -> BusinessHours:
    """Business hours from settings (ORCA_NOTIFY_BUSINESS_TZ/_START/_END/_DAYS)."""
    s = settings or get_settings()
    return BusinessHours(
        tz=s.notify_business_tz,
        start=_hhmm(s.notify_business_start, "ORCA_NOTIFY_BUSINESS_START"),
        end=_hhmm(s.notify_business_end, "ORCA_NOTIFY_BUSINESS_END"),
        days=parse_business_days(s.notify_business_days),
    )


def settings_contact_points(settings: Settings) -> list[dict[str, Any]]:
    """ORCA_NOTIFY_CONTACT_POINTS as a list of dicts; ValueError names what is wrong."""
    try:
        items = json.loads(settings.notify_contact_points)
    except json.JSONDecodeError as exc:
        raise ValueError(f"ORCA_NOTIFY_CONTACT_POINTS is not JSON: {exc.msg}") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("ORCA_NOTIFY_CONTACT_POINTS must be a JSON list of objects")
    return items


@dataclass
class CycleResult:
    messages: int = 0
    rows: int = 0
    held: int = 0
    sent: int = 0
    retry: int = 0
    failed: int = 0
    outcomes: list[str] = field(default_factory=list)


def outgoing_for(due: store.DueDelivery) -> Outgoing:
    return Outgoing(
        kind=due.kind,
        config=due.config,
        secret=due.secret,
        subject=due.subject,
        body=due.body,
        severity=due.severity,
        event=due.event,
        group_key=due.group_key,
        link=due.link,
        recipient=due.recipient,
        recipient_email=due.recipient_email,
        created_at=due.created_at,
        alerts=due.alerts,
    )


def run_notify_cycle(
    engine: Engine,
    *,
    clock: Clock = _clock,
    settings: Settings | None = None,
    hours: BusinessHours | None = None,
) -> CycleResult:
    """One delivery cycle; ``clock`` is the controllable time (tests, drills)."""
    s = settings or get_settings()
    if hours is None:
        try:
            hours = business_hours(s)
        except (ValueError, KeyError) as exc:  # an unknown zone is a KeyError (zoneinfo)
            # A typo in the hours must not stop P1 pages: fall back to 09-17 UTC, Mon-Fri.
            log.error("business hours setting unusable (%s); using 09:00-17:00 UTC Mon-Fri", exc)
            hours = BusinessHours()
    result = CycleResult()
    with engine.begin() as conn:
        if s.notify_contact_points.strip():
            # A broken setting must not stop delivery to the console's contact points.
            try:
                items = settings_contact_points(s)
            except ValueError as exc:
                log.warning("%s; settings contact points left as they were", exc)
            else:
                for problem in store.sync_settings_contact_points(conn, items=items, now=clock()):
                    log.warning("%s", problem)
        store.encrypt_plaintext_secrets(conn)
        plan = store.plan_deliveries(conn, now=clock(), hours=hours)
        store.fail_disabled_deliveries(conn, now=clock())
    result.messages, result.rows, result.held = plan.messages, plan.rows, plan.held
    ends = time.monotonic() + s.notify_cycle_deadline_s
    tried: list[int] = []
    while (remaining := ends - time.monotonic()) > 0.05:
        with engine.begin() as conn:
            due = store.claim_due_delivery(conn, now=clock(), exclude=tried)
            if due is None:
                break
            tried.append(due.id)
            timeouts = Timeouts(
                connect_s=s.notify_connect_timeout_s,
                read_s=s.notify_read_timeout_s,
                deadline_s=min(s.notify_send_deadline_s, remaining),
            )
            sent, outcome = _attempt(conn, due, timeouts, clock, s)
        # The contact point's name is the admin's; the error text is scrubbed of the secret.
        if outcome != "sent":
            log.warning(
                "delivery %s to %s: %s (%s)", due.id, due.contact_point, outcome, sent.error
            )
        result.outcomes.append(outcome)
        setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def _attempt(
    conn: Connection, due: store.DueDelivery, timeouts: Timeouts, clock: Clock, s: Settings
) -> tuple[SendResult, str]:
    """One delivery attempt in span ``notify.deliver``: the contact point's kind, the attempt
    number, the outcome and status code; never its name, URL or secret."""
    attributes: dict[str, str | int | float | bool] = {
        "orca.notify.kind": due.kind,
        "orca.notify.severity": due.severity,
        "orca.notify.event": due.event,
        "orca.notify.attempt": due.attempts + 1,
    }
    with telemetry.span("notify.deliver", **attributes) as current:
        sent, outcome = store.send_and_record(
            conn,
            delivery=due,
            outgoing=outgoing_for(due),
            timeouts=timeouts,
            at=clock,
            max_attempts=s.notify_max_attempts,
            backoff_base_s=s.notify_backoff_base_s,
            backoff_cap_s=s.notify_backoff_cap_s,
        )
        current.set_attribute("orca.notify.outcome", outcome)
        current.set_attribute("orca.notify.status_code", sent.status_code or 0)
        current.set_attribute("orca.notify.duration_ms", round(sent.duration_ms, 1))
        if not sent.ok:
            current.set_status(Status(StatusCode.ERROR, outcome))
    return sent, outcome
