"""What an alert transition, escalation or acknowledgement sets off, in the same transaction.

- firing / resolved (not silenced): one outbox row each (dashboard.data.notifications), the
  dedupe key is the transition itself (``<alert_key>:<to_state>``; resolutions end in
  ``:resolved`` as the outbox expects), so a repeated cycle or a second worker adds nothing.
- a P1 firing declares its incident (idempotent per alert_key) and every transition,
  escalation and acknowledgement of a linked alert goes to the incident timeline
  (dashboard.data.incidents: declare_incident_for_alert, record_timeline).
- escalation: one outbox row per step to the "secondary", then the "manager" audience.
- acknowledgement: one outbox row (event ``acknowledge``), for PagerDuty-style points only.
Every row names its alert (``alert_key``), PagerDuty's dedup_key for it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from dashboard.data import incidents, notifications
from dashboard.domain.alerting import AlertRule, Transition, format_value

SOURCE = "alerts"
SYSTEM_ACTOR = "system:alerts"
NOTIFY_ON = frozenset({"firing", "resolved"})


def alerts_link(alert_key: str) -> str:
    """Where the notification points: the Alerts page (relative; contact points add the host)."""
    return "/alerts"


def _subject(rule: AlertRule, t: Transition) -> str:
    labels = f" ({t.labels})" if t.labels else ""
    word = "FIRING" if t.to_state == "firing" else "RESOLVED"
    return f"[{rule.severity}] {word}: {rule.name}{labels}"


def _body(rule: AlertRule, t: Transition) -> str:
    return (
        f"{rule.summary}\n"
        f"Value: {format_value(rule.metric, t.value)} (threshold {rule.condition}) at "
        f"{t.at.isoformat()}\nRunbook: {rule.runbook}\nPanel: {rule.panel}\n"
        f"Alert: {t.alert_key}"
    )


class Hooks:
    """The default wiring (notifications + incidents); tests may subclass to observe calls."""

    def on_transition(
        self, conn: Connection, rule: AlertRule, t: Transition, *, silenced: bool
    ) -> int:
        """Called once per recorded transition; returns the notifications enqueued."""
        sent = 0
        if t.to_state in NOTIFY_ON and not silenced:
            severity = rule.severity if rule.severity in notifications.SEVERITIES else "info"
            sent += int(
                notifications.enqueue_notification(
                    conn,
                    dedupe_key=f"{t.alert_key}:{t.to_state}",
                    severity=severity,
                    group_key=rule.id,
                    subject=_subject(rule, t),
                    body=_body(rule, t),
                    source=SOURCE,
                    link=alerts_link(t.alert_key),
                    at=t.at,
                    alert_key=t.alert_key,
                    event="resolve" if t.to_state == "resolved" else "trigger",
                )
            )
        if rule.severity == "P1" and t.to_state == "firing":
            incident_seam.declare(conn, rule, t)
        incident_seam.timeline(
            conn,
            kind=f"alert.{t.to_state}",
            at=t.at,
            actor=None,
            text=f"{rule.name}: {t.from_state} -> {t.to_state} "
            f"(value {format_value(rule.metric, t.value)}, threshold {rule.condition})",
            alert_key=t.alert_key,
        )
        return sent

    def on_escalation(
        self, conn: Connection, rule: AlertRule, alert_key: str, audience: str, now: datetime
    ) -> int:
        added = notifications.enqueue_notification(
            conn,
            dedupe_key=f"{alert_key}:escalate:{audience}",
            severity=rule.severity if rule.severity in notifications.SEVERITIES else "info",
            group_key=rule.id,
            subject=f"[{rule.severity}] NOT ACKNOWLEDGED: {rule.name}",
            body=f"{rule.summary}\nNobody has acknowledged this alert; escalated to {audience}.\n"
            f"Alert: {alert_key}",
            source=SOURCE,
            audience=audience,
            link=alerts_link(alert_key),
            at=now,
            alert_key=alert_key,
            event="trigger",
        )
        incident_seam.timeline(
            conn,
            kind="alert.escalated",
            at=now,
            actor=None,
            text=f"{rule.name}: not acknowledged, escalated to {audience}",
            alert_key=alert_key,
        )
        return int(added)

    def on_acknowledge(
        self,
        conn: Connection,
        *,
        alert_key: str,
        name: str,
        actor: str,
        note: str,
        at: datetime,
        rule_id: str = "",
        severity: str = "info",
        notify: bool = True,
    ) -> None:
        if notify:  # only a firing alert is known to PagerDuty
            notifications.enqueue_notification(
                conn,
                dedupe_key=f"{alert_key}:acknowledged",
                severity=severity if severity in notifications.SEVERITIES else "info",
                group_key=rule_id or alert_key,
                subject=f"[{severity}] ACKNOWLEDGED by {actor}: {name}",
                body=f"{name} acknowledged by {actor}: {note}\nAlert: {alert_key}",
                source=SOURCE,
                link=alerts_link(alert_key),
                at=at,
                alert_key=alert_key,
                event="acknowledge",
            )
        incident_seam.timeline(
            conn,
            kind="alert.acknowledged",
            at=at,
            actor=actor,
            text=f"{name} acknowledged by {actor}: {note}",
            alert_key=alert_key,
        )


class _IncidentSeam:
    """Calls into dashboard.data.incidents (helper I's seam), on the caller's connection."""

    def declare(self, conn: Connection, rule: AlertRule, t: Transition) -> int | None:
        labels = f" ({t.labels})" if t.labels else ""
        return incidents.declare_incident_for_alert(
            conn,
            alert_key=t.alert_key,
            rule_id=rule.id,
            severity=rule.severity,
            title=f"{rule.name}{labels}",
            at=t.at,
            actor=SYSTEM_ACTOR,
        )

    def timeline(
        self,
        conn: Connection,
        *,
        kind: str,
        at: datetime,
        actor: str | None,
        text: str,
        alert_key: str,
    ) -> int:
        """Appends to every open incident linked to ``alert_key`` (none: nothing happens)."""
        return incidents.record_timeline(
            conn, kind=kind, at=at, actor=actor, text=text, alert_key=alert_key
        )


incident_seam = _IncidentSeam()
