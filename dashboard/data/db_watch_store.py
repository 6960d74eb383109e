"""PostgreSQL side of the Database Unreachable watch (dashboard.worker.db_watch).

While PostgreSQL answers, :func:`routes_snapshot` is what the watch keeps in Redis so it can
page without PostgreSQL: the enabled contact points (their secrets still sealed, as stored)
and who is on call. Once PostgreSQL is back, :func:`record_outage` writes what happened while
it was away, in one transaction and idempotently (a second watcher, or a retry after a crash,
adds nothing): the firing and resolved transitions in alert_history, the outbox row of the
page that was sent directly (dispatched, with its message, deliveries and attempts in the
delivery log), the P1 incident and its timeline (alert hooks), and the resolution in the
outbox for the delivery job to send as usual.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from dashboard.data import alert_hooks, notifications
from dashboard.data import alerts as store
from dashboard.data.notify_store import list_contact_points, resolve_person
from dashboard.domain.alerting import AlertRule, State, Transition
from dashboard.integrations import secret_box


def routes_snapshot(conn: Connection, *, at: datetime, rule_id: str) -> dict[str, Any]:
    """Enabled contact points (sealed secrets), the person on call at ``at`` and until when
    ``rule_id`` is silenced (None: it is not), as JSON."""
    sealed: dict[int, str] = {
        int(i): str(v or "")
        for i, v in conn.execute(text("SELECT id, secret FROM contact_points WHERE enabled"))
    }
    points = []
    for p in list_contact_points(conn):
        if not p.enabled:
            continue
        raw = sealed.get(p.id, "")
        try:  # never plaintext outside PostgreSQL either: an old row is sealed on the way
            secret = raw if secret_box.is_encrypted(raw) else secret_box.encrypt(raw)
        except secret_box.SecretKeyError:
            continue  # no usable key: this point cannot be cached (it is logged elsewhere)
        points.append(
            {
                "id": p.id,
                "name": p.name,
                "kind": p.kind,
                "audiences": list(p.audiences),
                "config": dict(p.config),
                "secret": secret,
            }
        )
    person = resolve_person(conn, audience="oncall", at=at)
    silence = store.silence_for(store.list_silences(conn, now=at), rule_id, "", at)
    return {
        "silenced_until": silence.ends_at.isoformat() if silence is not None else None,
        "at": at.isoformat(),
        "points": points,
        "oncall": person.username if person else None,
        "oncall_email": person.email if person else None,
    }


@dataclass(frozen=True)
class DirectDelivery:
    """One direct send of the page while PostgreSQL was away."""

    contact_point_id: int
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: float
    at: datetime
    attempts: int = 1


def _record_page(
    conn: Connection,
    *,
    rule: AlertRule,
    t: Transition,
    subject: str,
    body: str,
    recipient: str | None,
    deliveries: Sequence[DirectDelivery],
) -> None:
    """The outbox row of the page, dispatched: its message, deliveries and attempts."""
    dedupe = f"{t.alert_key}:firing"
    added = notifications.enqueue_notification(
        conn,
        dedupe_key=dedupe,
        severity=rule.severity,
        group_key=rule.id,
        subject=subject,
        body=body,
        source="alerts.db_watch",
        link=alert_hooks.alerts_link(t.alert_key),
        at=t.at,
        alert_key=t.alert_key,
        event="trigger",
    )
    if not added:
        return  # recorded before (another watcher, or a retry after a crash)
    message_id = conn.execute(
        text(
            """INSERT INTO notification_messages (group_key, severity, audience, event, subject,
                   body, link, recipient, row_count, created_at, alerts)
               VALUES (:g, :s, 'oncall', 'trigger', :subj, :body, :link, :r, 1, :at,
                   CAST(:alerts AS jsonb)) RETURNING id"""
        ),
        {
            "g": rule.id,
            "s": rule.severity,
            "subj": subject,
            "body": body,
            "link": alert_hooks.alerts_link(t.alert_key),
            "r": recipient,
            "at": t.at,
            "alerts": json.dumps([{"key": t.alert_key, "event": "trigger", "subject": subject}]),
        },
    ).scalar_one()
    conn.execute(
        text(
            "UPDATE notification_outbox SET status = 'dispatched', message_id = :m, "
            "dispatched_at = :at WHERE dedupe_key = :k"
        ),
        {"m": message_id, "at": t.at, "k": dedupe},
    )
    known = set(conn.execute(text("SELECT id FROM contact_points")).scalars())
    for d in deliveries:
        if d.contact_point_id not in known:
            continue  # deleted since: the page went out, its log row has nowhere to hang
        delivery_id = conn.execute(
            text(
                """INSERT INTO notification_deliveries (message_id, contact_point_id, status,
                       attempts, next_attempt_at, last_status_code, last_error, sent_at,
                       created_at)
                   VALUES (:m, :c, :st, :n, :at, :code, :err, :sent, :created)
                   ON CONFLICT DO NOTHING RETURNING id"""
            ),
            {
                "m": message_id,
                "c": d.contact_point_id,
                "st": "sent" if d.ok else "failed",
                "n": d.attempts,
                "at": d.at,
                "code": d.status_code,
                "err": d.error,
                "sent": d.at if d.ok else None,
                "created": t.at,
            },
        ).scalar_one_or_none()
        if delivery_id is None:
            continue
        conn.execute(
            text(
                """INSERT INTO notification_attempts (delivery_id, attempt, at, ok, status_code,
                       error, duration_ms) VALUES (:d, :n, :at, :ok, :code, :err, :ms)"""
            ),
            {
                "d": delivery_id,
                "n": d.attempts,
                "at": d.at,
                "ok": d.ok,
                "code": d.status_code,
                "err": d.error,
                "ms": d.duration_ms,
            },
        )


def record_outage(
    conn: Connection,
    *,
    rule: AlertRule,
    alert_key: str,
    fired_at: datetime,
    resolved_at: datetime,
    subject: str,
    body: str,
    recipient: str | None,
    deliveries: Sequence[DirectDelivery],
    hooks: alert_hooks.Hooks | None = None,
    silenced: bool = False,
) -> bool:
    """Write the outage into PostgreSQL (see the module docstring); False if it was already."""
    hooks = hooks or alert_hooks.Hooks()
    fired = _transition(rule, alert_key, "ok", "firing", fired_at, 1.0)
    resolved = _transition(rule, alert_key, "firing", "resolved", resolved_at, 0.0)
    first = _record_transition(conn, rule, fired)
    if not silenced:
        _record_page(
            conn,
            rule=rule,
            t=fired,
            subject=subject,
            body=body,
            recipient=recipient,
            deliveries=deliveries,
        )
    if first:  # the incident, the timeline (the page's outbox row is there already)
        hooks.on_transition(conn, rule, fired, silenced=silenced)
    second = _record_transition(conn, rule, resolved)
    if second:  # the resolution goes out with the delivery job
        hooks.on_transition(conn, rule, resolved, silenced=silenced)
    return first or second


def _transition(
    rule: AlertRule, key: str, from_state: State, to_state: State, at: datetime, value: float
) -> Transition:
    return Transition(
        rule.id, "", key, from_state, to_state, at, value, rule.threshold, rule.severity
    )


def _record_transition(conn: Connection, rule: AlertRule, t: Transition) -> bool:
    return store.record_history(
        conn,
        kind="transition",
        at=t.at,
        alert_key_=t.alert_key,
        rule_id=rule.id,
        labels="",
        severity=rule.severity,
        from_state=t.from_state,
        to_state=t.to_state,
        value=t.value,
        threshold=rule.threshold,
    )
