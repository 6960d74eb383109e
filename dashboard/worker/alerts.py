"""Worker job: evaluate every alert rule, keep transitions for good, notify, escalate, publish.

One cycle is one PostgreSQL transaction under a transaction-level advisory lock, so two
evaluators (two worker replicas during a leader hand-over, or a test that runs two at once)
never interleave: the second waits for nothing, sees the lock taken and skips; one started
just after the first finished sees the fresh ``evaluated_at`` and skips too. State, history,
outbox rows and incident links commit together, so a worker killed mid-cycle loses nothing
and a restarted one resumes from alert_states without firing again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import Connection, Engine

from dashboard import telemetry
from dashboard.data import alert_hooks
from dashboard.data import alerts as store
from dashboard.data.alert_metrics import Reading, read_metrics
from dashboard.data.alert_rules import current_rules
from dashboard.domain.alerting import (
    AlertRule,
    Sample,
    SeriesState,
    Transition,
    due_escalations,
    evaluate,
)

log = logging.getLogger(__name__)

#: Any fixed number works; it only has to be the same in every worker replica.
EVALUATION_LOCK_ID = 0x0CA_0A17
#: A cycle starting sooner than this share of the interval after the last one is skipped.
MIN_GAP_SHARE = 0.5
#: An instance (labelled series) silent this long is forgotten: it was retired, not broken.
RETIRE_AFTER = timedelta(hours=1)


@dataclass
class CycleResult:
    """What one call did (skipped: another evaluator holds the lock or has just run)."""

    skipped: str | None = None
    series: int = 0
    transitions: list[Transition] = field(default_factory=list)
    escalations: list[tuple[str, str]] = field(default_factory=list)
    notified: int = 0
    seconds: float = 0.0


def _append_recent(
    recent: tuple[tuple[str, float | None], ...], now: datetime, value: float | None
) -> tuple[tuple[str, float | None], ...]:
    return (*recent, (now.isoformat(), value))[-store.RECENT_POINTS :]


def evaluate_all(
    conn: Connection,
    client: redis.Redis | None,
    rules: Mapping[str, AlertRule],
    *,
    now: datetime,
    interval_s: float,
    hooks: alert_hooks.Hooks | None = None,
) -> CycleResult:
    """One evaluation of every rule on ``conn`` (the caller commits); see the module docstring."""
    hooks = hooks or alert_hooks.Hooks()
    result = CycleResult()
    if not store.try_evaluation_lock(conn, lock_id=EVALUATION_LOCK_ID):
        result.skipped = "another evaluator is running"
        return result
    last = store.last_evaluated_at(conn)
    if last is not None and (now - last).total_seconds() < interval_s * MIN_GAP_SHARE:
        result.skipped = "evaluated moments ago"
        return result
    states = store.list_states(conn, for_update=True)
    readings = read_metrics(conn, client, metrics=[r.metric for r in rules.values()], now=now)
    silences = store.list_silences(conn, now=now)
    for rule in rules.values():
        by_labels: dict[str, Reading] = {r.labels: r for r in readings.get(rule.metric, [])}
        known = {labels for (rule_id, labels) in states if rule_id == rule.id}
        labels_all = sorted(set(by_labels) | known) or [""]
        for labels in labels_all:
            if _retired(states.get((rule.id, labels)), labels, by_labels, now):
                store.delete_state(conn, rule_id=rule.id, labels=labels)
                continue
            stored = states.get((rule.id, labels)) or store.StoredState(
                series=SeriesState(rule.id, labels),
                severity=rule.severity,
                threshold=rule.threshold,
            )
            reading = by_labels.get(labels)
            sample = None if reading is None else Sample(reading.value, reading.observed_at)
            series, transition = evaluate(rule, stored.series, sample, now)
            nxt = replace(
                stored,
                series=series,
                severity=rule.severity,
                threshold=rule.threshold,
                recent=_append_recent(stored.recent, now, series.value),
            )
            silence = store.silence_for(silences, rule.id, labels, now)
            if transition is not None and store.record_history(
                conn,
                kind="transition",
                at=transition.at,
                alert_key_=transition.alert_key,
                rule_id=rule.id,
                labels=labels,
                severity=rule.severity,
                from_state=transition.from_state,
                to_state=transition.to_state,
                value=transition.value,
                threshold=transition.threshold,
            ):
                result.transitions.append(transition)
                result.notified += hooks.on_transition(
                    conn, rule, transition, silenced=silence is not None
                )
            nxt = _escalate(
                conn, rule, nxt, now, silenced=silence is not None, hooks=hooks, result=result
            )
            store.save_state(conn, stored=nxt, now=now)
            result.series += 1
    return result


def _retired(
    stored: store.StoredState | None, labels: str, by_labels: dict[str, Reading], now: datetime
) -> bool:
    """A series to forget: the unlabelled placeholder of a rule whose metric now reports per
    instance, or an instance gone silent for RETIRE_AFTER (kept while it is firing)."""
    if stored is None or labels in by_labels or stored.series.state == "firing":
        return False
    if labels == "":
        return bool(by_labels)
    since = stored.series.since
    return stored.series.state == "nodata" and since is not None and now - since > RETIRE_AFTER


def _escalate(
    conn: Connection,
    rule: AlertRule,
    stored: store.StoredState,
    now: datetime,
    *,
    silenced: bool,
    hooks: alert_hooks.Hooks,
    result: CycleResult,
) -> store.StoredState:
    """A P1 firing unacknowledged 15 min goes to the secondary, 15 more to the manager (once)."""
    key = stored.alert_key
    if stored.series.state != "firing" or key is None or silenced:
        return stored
    due = due_escalations(
        severity=rule.severity,
        fired_at=stored.series.fired_at,
        acked=stored.acked,
        done=stored.escalations_done,
        now=now,
    )
    for level, audience in due:
        store.record_history(
            conn,
            kind="escalated",
            at=now,
            alert_key_=key,
            rule_id=rule.id,
            labels=stored.series.labels,
            severity=rule.severity,
            to_state=audience,
            value=stored.series.value,
            threshold=rule.threshold,
            note=f"not acknowledged: escalated to {audience}",
        )
        result.escalations.append((key, audience))
        result.notified += hooks.on_escalation(conn, rule, key, audience, now)
        stored = replace(stored, escalated_key=key, escalation_level=level)
    return stored


def _count(transitions: list[Transition], to_state: str) -> int:
    return sum(1 for t in transitions if t.to_state == to_state)


def run_alert_cycle(
    engine: Engine,
    client: redis.Redis | None,
    *,
    now: datetime | None = None,
    interval_s: float = 15.0,
    rules: Mapping[str, AlertRule] | None = None,
    hooks: alert_hooks.Hooks | None = None,
    clock: Callable[[], datetime] | None = None,
) -> CycleResult:
    """Evaluate (one transaction), then publish the active list to Redis for the pages.

    One span ``alerts.evaluate`` per cycle: rule and series counts, transitions, escalations,
    notifications enqueued, and why it was skipped when it was.
    """
    started = time.monotonic()
    chosen = rules if rules is not None else current_rules()
    at = now or (clock or (lambda: datetime.now(UTC)))()
    with telemetry.span("alerts.evaluate", **{"orca.alerts.rules": len(chosen)}) as current:
        with engine.begin() as conn:
            result = evaluate_all(conn, client, chosen, now=at, interval_s=interval_s, hooks=hooks)
        if result.skipped is None:
            with engine.connect() as conn:
                store.publish(conn, client, chosen, now=at)
        current.set_attribute("orca.alerts.skipped", result.skipped or "")
        current.set_attribute("orca.alerts.series", result.series)
        current.set_attribute("orca.alerts.transitions", len(result.transitions))
        current.set_attribute("orca.alerts.firing", _count(result.transitions, "firing"))
        current.set_attribute("orca.alerts.resolved", _count(result.transitions, "resolved"))
        current.set_attribute("orca.alerts.escalations", len(result.escalations))
        current.set_attribute("orca.alerts.notified", result.notified)
    result.seconds = time.monotonic() - started
    for t in result.transitions:
        log.info("alert %s: %s -> %s (value %s)", t.alert_key, t.from_state, t.to_state, t.value)
    return result
