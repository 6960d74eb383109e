"""Rule validation and the pending/firing/resolved/no-data state machine on a controllable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dashboard.data.alert_rules import load_rules, parse_rules_text
from dashboard.domain.alerting import (
    AlertRule,
    RuleError,
    Sample,
    SeriesState,
    due_escalations,
    evaluate,
    parse_rules,
)

T0 = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)


def rule(**over: Any) -> AlertRule:
    base: dict[str, Any] = {
        "id": "cpu_high",
        "name": "CPU high",
        "severity": "P2",
        "metric": "cpu_memory_pct",
        "op": "above",
        "threshold": 80,
        "clear": 75,
        "for": "2m",
        "no_data": "5m",
        "runbook": "rb-1",
        "panel": "service_health#resources",
        "summary": "CPU is high",
    }
    base.update(over)
    return parse_rules({"rules": [base]})[0]


class Clock:
    """Steps of the evaluation interval; feeds values, returns the states seen."""

    def __init__(self, r: AlertRule, step_s: float = 15) -> None:
        self.rule = r
        self.now = T0
        self.step = timedelta(seconds=step_s)
        self.state = SeriesState(r.id, "")
        self.moves: list[tuple[str, str, datetime]] = []

    def feed(self, value: float | None, *, observed: datetime | None = None) -> str:
        sample = None if value is None else Sample(value, observed or self.now)
        self.state, t = evaluate(self.rule, self.state, sample, self.now)
        if t is not None:
            self.moves.append((t.from_state, t.to_state, t.at))
        self.now += self.step
        return self.state.state


def test_the_shipped_rules_file_loads_and_names_every_guide_rule() -> None:
    rules = {r.id: r for r in load_rules()}
    p1 = {r.name for r in rules.values() if r.severity == "P1"}
    p2 = {r.name for r in rules.values() if r.severity == "P2"}
    assert p1 == {
        "Service Down",
        "Database Unreachable",
        "High Error Rate",
        "Trust Score Critical Drop",
    }
    assert p2 == {
        "Sync Lag High",
        "Drift Rate Elevated",
        "Resource Utilization High",
        "Backup older than 26 hours",  # issue 11: the guide's daily backups
    }
    assert rules["backup_stale"].threshold == 26 and rules["backup_stale"].op == "above"
    assert rules["service_down"].for_s == 120
    assert rules["high_error_rate"].threshold == 5 and rules["high_error_rate"].for_s == 300
    assert rules["resource_utilization_high"].for_s == 900
    assert (
        rules["trust_score_critical"].op == "below"
        and rules["trust_score_critical"].threshold == 50
    )
    warnings = {r.metric: r.threshold for r in rules.values() if r.severity == "warning"}
    assert warnings["p99_latency_ms"] == 500 and warnings["error_rate_pct"] == 1
    assert warnings["sync_lag_s"] == 60 and warnings["drift_rate_pct"] == 10
    assert warnings["disk_pct"] == 80 and warnings["db_conn_pct"] == 80
    assert warnings["violations_24h"] == 5
    trust_warnings = sorted(
        r.threshold for r in rules.values() if r.severity == "warning" and r.metric == "trust_score"
    )
    assert trust_warnings == [70, 75]
    for r in rules.values():
        assert r.runbook and "#" in r.panel


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"severity": "P9"}, "rule 'cpu_high': severity"),
        ({"metric": "nope"}, "rule 'cpu_high': unknown metric"),
        ({"clear": 90}, "rule 'cpu_high': clear 90 must be on the good side"),
        ({"for": "soon"}, "rule 'cpu_high': for must be"),
        ({"threshold": "high"}, "rule 'cpu_high': threshold must be a finite number"),
        ({"panel": "nowhere"}, "rule 'cpu_high': panel must be"),
        ({"colour": "red"}, "rule 'cpu_high': unknown field"),
        ({"id": "Bad Id"}, "id must be lower_snake_case"),
    ],
)
def test_a_bad_rule_is_named_in_the_error(change: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError, match=message.replace("(", r"\(")):
        rule(**change)


def test_a_missing_field_and_a_duplicate_id_are_named() -> None:
    good = "\n".join(
        [
            "  - {id: a_rule, name: A, severity: P1, metric: trust_score, op: below,",
            "     threshold: 50, clear: 52, for: 0s, no_data: 5m, runbook: r, panel: p#q,",
            "     summary: s}",
        ]
    )
    with pytest.raises(RuleError, match=r"x\.yaml: rule 'a_rule': the id is used twice"):
        parse_rules_text("rules:\n" + good + "\n" + good, origin="x.yaml")
    with pytest.raises(RuleError, match="rule 'b_rule': missing field"):
        parse_rules_text("rules:\n  - {id: b_rule, name: B}", origin="x.yaml")
    with pytest.raises(RuleError, match="not valid YAML"):
        parse_rules_text("rules: [", origin="x.yaml")


def test_pending_then_firing_after_the_for_duration_then_resolved() -> None:
    c = Clock(rule())
    assert c.feed(70) == "ok"
    assert c.feed(85) == "pending"
    started = c.state.started_at
    # 2 minutes = 8 steps of 15 s: still pending until the for-duration has passed.
    states = [c.feed(85) for _ in range(7)]
    assert states == ["pending"] * 7
    assert c.feed(85) == "firing"
    assert c.state.started_at == started  # same alert instance (same alert_key)
    assert c.feed(76) == "firing"  # between clear and threshold: still firing
    assert c.feed(74) == "resolved"
    assert [m[:2] for m in c.moves] == [
        ("ok", "pending"),
        ("pending", "firing"),
        ("firing", "resolved"),
    ]
    assert c.moves[1][2] - c.moves[0][2] == timedelta(minutes=2)


def test_no_flapping_around_the_threshold() -> None:
    c = Clock(rule(**{"for": "0s"}))
    for value in [81, 79.9, 80.1, 79, 80.5, 78, 81]:
        c.feed(value)
    # Wobbling between 78 and 81 never passes the clear threshold (75): one firing, no resolve.
    assert [m[:2] for m in c.moves] == [("ok", "firing")]
    c2 = Clock(rule())
    for value in [81, 79, 81, 79, 81, 79, 81, 79, 81, 81]:
        c2.feed(value)
    # Pending is not restarted by dips that stay above clear: fires after 2 minutes anyway.
    assert [m[:2] for m in c2.moves] == [("ok", "pending"), ("pending", "firing")]


def test_pending_that_clears_goes_back_to_ok_without_firing() -> None:
    c = Clock(rule())
    c.feed(90)
    c.feed(70)
    assert c.state.state == "ok" and c.state.started_at is None
    assert [m[:2] for m in c.moves] == [("ok", "pending"), ("pending", "ok")]


def test_no_data_when_telemetry_stops_and_recovery() -> None:
    c = Clock(rule(**{"for": "0s"}))
    c.feed(90)
    key = c.state.alert_key
    stale = c.now
    # The newest value stays the same old one: after 5 minutes the rule says "no data".
    states = [c.feed(90, observed=stale) for _ in range(22)]
    assert states[-1] == "nodata" and "nodata" not in states[:19]
    assert c.state.alert_key == key  # the firing instance stays open
    assert c.feed(None) == "nodata"
    assert c.feed(95) == "firing"  # data back and still bad: the same alert goes on firing
    assert c.state.alert_key == key
    assert c.feed(60) == "resolved"
    assert [m[1] for m in c.moves] == ["firing", "nodata", "firing", "resolved"]


def test_restart_in_the_middle_resumes_from_the_stored_state() -> None:
    r = rule()
    c = Clock(r)
    c.feed(90)
    c.feed(90)
    # The worker restarts: a new evaluator starts from the persisted state only.
    restarted = Clock(r)
    restarted.state = c.state
    restarted.now = c.now + timedelta(seconds=40)
    moves = [restarted.feed(90) for _ in range(6)]
    assert moves.count("firing") >= 1
    assert [m[:2] for m in restarted.moves] == [("pending", "firing")]
    assert restarted.moves[0][2] - c.moves[0][2] >= timedelta(minutes=2)


def test_for_zero_fires_at_once_and_below_rules() -> None:
    c = Clock(rule(op="below", threshold=50, clear=52, metric="trust_score", **{"for": "0s"}))
    assert c.feed(55) == "ok"
    assert c.feed(49) == "firing"
    assert c.feed(51) == "firing"
    assert c.feed(52) == "resolved"


def test_escalation_steps() -> None:
    fired = T0
    kw: dict[str, Any] = {"severity": "P1", "fired_at": fired, "acked": False}
    assert due_escalations(**kw, done=0, now=fired + timedelta(minutes=14)) == []
    assert due_escalations(**kw, done=0, now=fired + timedelta(minutes=15)) == [(1, "secondary")]
    assert due_escalations(**kw, done=1, now=fired + timedelta(minutes=29)) == []
    assert due_escalations(**kw, done=1, now=fired + timedelta(minutes=30)) == [(2, "manager")]
    assert due_escalations(**{**kw, "acked": True}, done=0, now=fired + timedelta(hours=1)) == []
    assert due_escalations(**{**kw, "severity": "P2"}, done=0, now=fired + timedelta(hours=1)) == []


def test_the_for_duration_counts_from_the_first_bad_observation() -> None:
    r = rule()
    seen = T0 - timedelta(seconds=10)  # the probe saw it 10 s before this cycle
    state, t = evaluate(r, SeriesState(r.id, ""), Sample(90, seen), T0)
    assert t is not None and t.to_state == "pending" and state.started_at == seen
    state, t = evaluate(
        r, state, Sample(90, T0 + timedelta(seconds=105)), T0 + timedelta(seconds=110)
    )
    assert t is not None and t.to_state == "firing"  # 120 s after the first observation
