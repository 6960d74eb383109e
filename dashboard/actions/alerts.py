"""Alert actions: acknowledge (take ownership, with a note), silence with an expiry, lift a silence.

Each goes through :func:`run_authorised` (permission ``manage_alerts``: oncall and admin),
locks what it changes, writes an alert-history row and its audit row in the same
transaction, is idempotent and guarded by a version. Quarantining the agents behind an alert
is the existing ``agent.quarantine`` action (dashboard.actions.agents), not a copy of it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from dashboard.actions.base import (
    ActionResult,
    Actor,
    audit_change,
    clean_reason,
    run_authorised,
)
from dashboard.data import alert_hooks
from dashboard.data import alerts as store
from dashboard.data.alert_rules import current_rules
from dashboard.domain.alerting import AlertRule, RuleError
from dashboard.domain.permissions import Role
from dashboard.integrations.redis_client import make_redis
from dashboard.settings import get_settings

log = logging.getLogger(__name__)

MAX_SILENCE = timedelta(days=30)
MIN_SILENCE = timedelta(minutes=5)
_hooks = alert_hooks.Hooks()


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def republish(engine: Engine, *, now: datetime | None = None) -> None:
    """Write the live snapshot again after a change, so every page shows it at once.

    Quiet when Redis or the rules file is unavailable: the worker rewrites it each cycle.
    """
    url = get_settings().redis_url
    if not url:
        return
    try:
        rules = current_rules()
        with engine.connect() as conn:
            store.publish(conn, make_redis(url), rules, now=_now(now))
    except (RuleError, ValueError, RuntimeError, OSError) as exc:
        log.warning("alert snapshot not republished: %s", exc)
    except Exception as exc:
        log.warning("alert snapshot not republished: %s", exc.__class__.__name__)


def acknowledge_alert(
    engine: Engine,
    actor: Actor,
    alert_key: str,
    note: str,
    expected_version: int | None = None,
    *,
    now: datetime | None = None,
) -> ActionResult:
    """Take ownership of one alert instance with a note (≤ 1,000 characters, required)."""
    at = _now(now)

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        try:
            why = clean_reason(note)
        except ValueError as exc:
            return ActionResult("invalid", str(exc).replace("reason", "note"))
        if not isinstance(alert_key, str) or not alert_key or len(alert_key) > 500:
            return ActionResult("invalid", "That is not an alert.")
        st = store.get_state_by_key(conn, alert_key_=alert_key, for_update=True)
        if st is None or st.series.state not in ("pending", "firing", "nodata"):
            return ActionResult("not_found", "This alert is no longer active; nothing to do.")
        if st.acked:
            return ActionResult("noop", f"Already acknowledged by {st.acked_by}.")
        if expected_version is not None and st.version != expected_version:
            return ActionResult(
                "conflict", "This alert changed since you opened it. Reload and try again."
            )
        assert why is not None
        conn.exec_driver_sql(
            "UPDATE alert_states SET acked_key = %(k)s, acked_by = %(b)s, acked_at = %(at)s, "
            "ack_note = %(n)s, version = version + 1 WHERE rule_id = %(r)s AND labels = %(l)s",
            {
                "k": alert_key,
                "b": actor.username,
                "at": at,
                "n": why,
                "r": st.series.rule_id,
                "l": st.series.labels,
            },
        )
        store.record_history(
            conn,
            kind="acknowledged",
            at=at,
            alert_key_=alert_key,
            rule_id=st.series.rule_id,
            labels=st.series.labels,
            severity=st.severity,
            from_state=st.series.state,
            to_state=st.series.state,
            value=st.series.value,
            threshold=st.threshold,
            actor=actor.username,
            note=why,
        )
        rules = _rules()
        name = rules[st.series.rule_id].name if st.series.rule_id in rules else st.series.rule_id
        _hooks.on_acknowledge(
            conn,
            alert_key=alert_key,
            name=name,
            actor=actor.username,
            note=why,
            at=at,
            rule_id=st.series.rule_id,
            severity=st.severity,
            notify=st.series.state == "firing",
        )
        audit_change(
            conn,
            actor,
            roles,
            "alert.acknowledge",
            target=("alert", alert_key),
            reason=why,
            before={"acked_by": None, "version": st.version},
            after={"acked_by": actor.username, "version": st.version + 1},
        )
        return ActionResult("changed", "Acknowledged: you own this alert now.", count=1)

    result = run_authorised(
        engine, actor, "alert.acknowledge", body, target=("alert", str(alert_key)[:500])
    )
    if result.outcome == "changed":
        republish(engine, now=at)
    return result


def _rules() -> dict[str, AlertRule]:
    try:
        return current_rules()
    except RuleError:
        return {}


def silence_alert(
    engine: Engine,
    actor: Actor,
    rule_id: str,
    labels: str | None,
    comment: str,
    duration: timedelta,
    *,
    now: datetime | None = None,
) -> ActionResult:
    """Silence a rule (labels None: every series of it) for ``duration`` with a comment.

    A silenced alert still evaluates and is kept in history; it sends no notification and
    does not escalate. Repeating the same silence while it is in force changes nothing.
    """
    at = _now(now)

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        try:
            why = clean_reason(comment)
        except ValueError as exc:
            return ActionResult("invalid", str(exc).replace("reason", "comment"))
        rules = _rules()
        if rule_id not in rules:
            return ActionResult("not_found", "There is no such alert rule.")
        if not isinstance(duration, timedelta) or not MIN_SILENCE <= duration <= MAX_SILENCE:
            return ActionResult("invalid", "A silence lasts between 5 minutes and 30 days.")
        if labels is not None and (not isinstance(labels, str) or len(labels) > 300):
            return ActionResult("invalid", "That is not a series of this rule.")
        ends = at + duration
        for s in store.list_silences(conn, now=at):
            if (
                s.rule_id == rule_id
                and s.labels == labels
                and s.created_by == actor.username
                and s.comment == why
                and abs((s.ends_at - ends).total_seconds()) < 60
            ):
                return ActionResult("noop", "This silence is already in force.")
        silence_id = store.insert_silence(
            conn,
            rule_id=rule_id,
            labels=labels,
            comment=why or "",
            created_by=actor.username,
            created_at=at,
            ends_at=ends,
        )
        severity = rules[rule_id].severity
        store.record_history(
            conn,
            kind="silenced",
            at=at,
            alert_key_=f"{rule_id}[{labels or '*'}]",
            rule_id=rule_id,
            labels=labels or "",
            severity=severity,
            actor=actor.username,
            note=f"until {ends.isoformat(timespec='minutes')}: {why}",
        )
        audit_change(
            conn,
            actor,
            roles,
            "alert.silence",
            target=("alert_rule", rule_id),
            reason=why,
            after={"silence_id": silence_id, "labels": labels, "ends_at": ends.isoformat()},
        )
        return ActionResult("changed", f"Silenced until {ends:%Y-%m-%d %H:%M} UTC.", count=1)

    result = run_authorised(
        engine, actor, "alert.silence", body, target=("alert_rule", str(rule_id)[:100])
    )
    if result.outcome == "changed":
        republish(engine, now=at)
    return result


def lift_silence(
    engine: Engine,
    actor: Actor,
    silence_id: int,
    expected_version: int | None = None,
    *,
    now: datetime | None = None,
) -> ActionResult:
    """End a silence before its expiry."""
    at = _now(now)

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        if not isinstance(silence_id, int) or isinstance(silence_id, bool) or silence_id <= 0:
            return ActionResult("invalid", "A silence id is a positive whole number.")
        s = store.get_silence(conn, silence_id=silence_id, for_update=True)
        if s is None:
            return ActionResult("not_found", f"There is no silence #{silence_id}.")
        if not s.active(at):
            return ActionResult("noop", "This silence has already ended.")
        if expected_version is not None and s.version != expected_version:
            return ActionResult(
                "conflict", "This silence changed since you opened it. Reload and try again."
            )
        conn.exec_driver_sql(
            "UPDATE alert_silences SET lifted_at = %(at)s, lifted_by = %(b)s, "
            "version = version + 1 WHERE id = %(id)s",
            {"at": at, "b": actor.username, "id": silence_id},
        )
        rules = _rules()
        store.record_history(
            conn,
            kind="unsilenced",
            at=at,
            alert_key_=f"{s.rule_id}[{s.labels or '*'}]",
            rule_id=s.rule_id,
            labels=s.labels or "",
            severity=rules[s.rule_id].severity if s.rule_id in rules else "warning",
            actor=actor.username,
            note=f"silence #{silence_id} lifted",
        )
        audit_change(
            conn,
            actor,
            roles,
            "alert.unsilence",
            target=("alert_silence", str(silence_id)),
            before={"ends_at": s.ends_at.isoformat(), "version": s.version},
            after={"lifted_at": at.isoformat(), "version": s.version + 1},
        )
        return ActionResult("changed", f"Silence #{silence_id} lifted.", count=1)

    result = run_authorised(
        engine, actor, "alert.unsilence", body, target=("alert_silence", str(silence_id))
    )
    if result.outcome == "changed":
        republish(engine, now=at)
    return result
