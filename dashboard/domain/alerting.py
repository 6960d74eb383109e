"""Alert rules and their evaluation: validation of rule data and the pending/firing state machine.

Pure: no I/O, no clock. The worker reads values (dashboard.data.alert_metrics), the state of
every series (dashboard.data.alerts) and calls :func:`evaluate` with the time it chose, so the
same inputs always give the same transition, in a test as in production.

States of one series (a rule and a label set, e.g. one instance):
  ok        nothing wrong (also the start state)
  pending   the condition holds, but not yet for the rule's for-duration
  firing    it held for the for-duration; stays firing until the value passes ``clear``
  resolved  it was firing and the value passed ``clear`` (behaves as ok afterwards)
  nodata    the telemetry behind the rule stopped arriving (newest value older than no_data)

Hysteresis: a pending or firing series goes back only when the value passes ``clear`` (on the
good side of the threshold), so a value wobbling around the threshold neither flaps firing
nor restarts the for-duration.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final, Literal

Severity = Literal["P1", "P2", "warning"]
State = Literal["ok", "pending", "firing", "resolved", "nodata"]
SEVERITIES: Final[tuple[Severity, ...]] = ("P1", "P2", "warning")
SEVERITY_RANK: Final[Mapping[str, int]] = {"P1": 0, "P2": 1, "warning": 2}
DRIVER_KINDS: Final = ("trust", "violations", "drift")
#: Active states: what the Alerts page lists (nodata is shown: a silent rule is a problem).
ACTIVE_STATES: Final[frozenset[str]] = frozenset({"pending", "firing", "nodata"})

#: The metrics dashboard.data.alert_metrics knows how to read (name -> unit shown).
METRICS: Final[Mapping[str, str]] = {
    "core_health_down": "",
    "postgresql_down": "",
    "error_rate_pct": "%",
    "p99_latency_ms": "ms",
    "trust_score": "",
    "sync_lag_s": "s",
    "drift_rate_pct": "%",
    "cpu_memory_pct": "%",
    "memory_pct": "%",
    "disk_pct": "%",
    "db_conn_pct": "%",
    "violations_24h": "",
    "backup_age_h": " h",
}

_ID = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
_DURATION = re.compile(r"^(\d+)\s*(s|m|h)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600}
_FIELDS = frozenset(
    {
        "id",
        "name",
        "severity",
        "metric",
        "op",
        "threshold",
        "clear",
        "for",
        "no_data",
        "runbook",
        "panel",
        "drivers",
        "summary",
    }
)
_REQUIRED = _FIELDS - {"drivers"}


class RuleError(ValueError):
    """A rule file entry that cannot be used; the message names the rule and the field."""


@dataclass(frozen=True)
class AlertRule:
    """One rule of data/alert_rules.yaml (see that file for the meaning of each field)."""

    id: str
    name: str
    severity: Severity
    metric: str
    op: Literal["above", "below"]
    threshold: float
    clear: float
    for_s: float
    no_data_s: float
    runbook: str
    panel: str
    summary: str
    drivers: str | None = None

    def breaches(self, value: float) -> bool:
        """The condition (strict, as the guide writes its limits)."""
        return value > self.threshold if self.op == "above" else value < self.threshold

    def cleared(self, value: float) -> bool:
        """On the good side of ``clear`` (inclusive): a firing series resolves."""
        return value <= self.clear if self.op == "above" else value >= self.clear

    @property
    def condition(self) -> str:
        sign = ">" if self.op == "above" else "<"
        unit = METRICS.get(self.metric, "")
        return f"{self.metric} {sign} {_num(self.threshold)}{unit}"

    @property
    def panel_page(self) -> str:
        return self.panel.split("#", 1)[0]


def _num(value: float) -> str:
    return f"{value:g}"


def parse_duration(value: object) -> float:
    """Seconds from "90s", "2m", "1h" (or a number of seconds); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 30s, 2m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value).strip())
        if match is None:
            raise ValueError(f"{str(value)[:20]!r} is not a duration such as 30s, 2m or 1h")
        seconds = float(int(match.group(1)) * _UNIT_S[match.group(2)])
    if seconds < 0 or seconds > 7 * 86400:
        raise ValueError("a duration between 0s and 7 days")
    return seconds


def _text(rule_id: str, entry: Mapping[str, Any], name: str, limit: int = 300) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"rule {rule_id!r}: {name} must be non-empty text")
    if len(value) > limit:
        raise RuleError(f"rule {rule_id!r}: {name} is longer than {limit} characters")
    return value.strip()


def _number(rule_id: str, entry: Mapping[str, Any], name: str) -> float:
    value = entry.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RuleError(f"rule {rule_id!r}: {name} must be a finite number, not {value!r}")
    return float(value)


def parse_rule(entry: object, *, position: int) -> AlertRule:
    """One validated rule from a mapping; RuleError naming the rule (or its position)."""
    if not isinstance(entry, Mapping):
        raise RuleError(f"rule #{position}: each rule must be a mapping of fields")
    raw_id = entry.get("id")
    rule_id = raw_id if isinstance(raw_id, str) else f"#{position}"
    if not isinstance(raw_id, str) or not _ID.match(raw_id):
        raise RuleError(f"rule {rule_id!r}: id must be lower_snake_case (2-63 characters)")
    unknown = sorted(set(map(str, entry)) - _FIELDS)
    if unknown:
        raise RuleError(f"rule {rule_id!r}: unknown field(s) {', '.join(unknown)}")
    missing = sorted(_REQUIRED - set(map(str, entry)))
    if missing:
        raise RuleError(f"rule {rule_id!r}: missing field(s) {', '.join(missing)}")
    severity = entry["severity"]
    if severity not in SEVERITIES:
        raise RuleError(f"rule {rule_id!r}: severity must be one of {', '.join(SEVERITIES)}")
    metric = entry["metric"]
    if metric not in METRICS:
        raise RuleError(f"rule {rule_id!r}: unknown metric {str(metric)[:40]!r}")
    op = entry["op"]
    if op not in ("above", "below"):
        raise RuleError(f"rule {rule_id!r}: op must be 'above' or 'below'")
    threshold = _number(rule_id, entry, "threshold")
    clear = _number(rule_id, entry, "clear")
    if (op == "above" and clear > threshold) or (op == "below" and clear < threshold):
        raise RuleError(
            f"rule {rule_id!r}: clear {clear:g} must be on the good side of threshold "
            f"{threshold:g} (or equal to it)"
        )
    durations: dict[str, float] = {}
    for name in ("for", "no_data"):
        try:
            durations[name] = parse_duration(entry[name])
        except ValueError as exc:
            raise RuleError(f"rule {rule_id!r}: {name} must be {exc}") from None
    if durations["no_data"] <= 0:
        raise RuleError(f"rule {rule_id!r}: no_data must be longer than 0s")
    panel = _text(rule_id, entry, "panel", 80)
    if "#" not in panel:
        raise RuleError(f"rule {rule_id!r}: panel must be <page_id>#<panel>")
    drivers = entry.get("drivers")
    if drivers is not None and drivers not in DRIVER_KINDS:
        raise RuleError(f"rule {rule_id!r}: drivers must be one of {', '.join(DRIVER_KINDS)}")
    return AlertRule(
        id=raw_id,
        name=_text(rule_id, entry, "name", 120),
        severity=severity,
        metric=str(metric),
        op=op,
        threshold=threshold,
        clear=clear,
        for_s=durations["for"],
        no_data_s=durations["no_data"],
        runbook=_text(rule_id, entry, "runbook", 80),
        panel=panel,
        summary=_text(rule_id, entry, "summary"),
        drivers=drivers,
    )


def parse_rules(document: object) -> tuple[AlertRule, ...]:
    """Every rule of a parsed rules file ({"rules": [...]}), ids unique; RuleError otherwise."""
    if not isinstance(document, Mapping) or not isinstance(document.get("rules"), list):
        raise RuleError("the rules file must hold a list under 'rules:'")
    rules: list[AlertRule] = []
    seen: set[str] = set()
    for position, entry in enumerate(document["rules"], start=1):
        rule = parse_rule(entry, position=position)
        if rule.id in seen:
            raise RuleError(f"rule {rule.id!r}: the id is used twice")
        seen.add(rule.id)
        rules.append(rule)
    if not rules:
        raise RuleError("the rules file holds no rules")
    return tuple(rules)


# --- evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """The newest value of a series and when it was observed."""

    value: float
    observed_at: datetime


@dataclass(frozen=True)
class SeriesState:
    """What the evaluator remembers of one series between cycles (persisted by the worker).

    started_at: when the current alert instance began (the pending or firing start; None when
    ok/resolved) and so part of its alert_key. since: when the current state began.
    """

    rule_id: str
    labels: str
    state: State = "ok"
    since: datetime | None = None
    started_at: datetime | None = None
    fired_at: datetime | None = None
    value: float | None = None
    evaluated_at: datetime | None = None

    @property
    def alert_key(self) -> str | None:
        return alert_key(self.rule_id, self.labels, self.started_at)


@dataclass(frozen=True)
class Transition:
    """One state change, as kept for good in the alert history."""

    rule_id: str
    labels: str
    alert_key: str
    from_state: State
    to_state: State
    at: datetime
    value: float | None
    threshold: float
    severity: Severity


def alert_key(rule_id: str, labels: str, started_at: datetime | None) -> str | None:
    """``rule[labels]@start``: one alert instance (its pending/firing start, UTC seconds)."""
    if started_at is None:
        return None
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    return f"{rule_id}[{labels}]@{stamp}"


def _fresh(rule: AlertRule, sample: Sample | None, now: datetime) -> bool:
    if sample is None or math.isnan(sample.value):
        return False
    return (now - sample.observed_at) <= timedelta(seconds=rule.no_data_s)


def evaluate(
    rule: AlertRule, previous: SeriesState, sample: Sample | None, now: datetime
) -> tuple[SeriesState, Transition | None]:
    """The next state of one series at ``now`` and the transition it made (None: no change)."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    prev = previous.state
    if not _fresh(rule, sample, now):
        nxt = replace(previous, evaluated_at=now, value=None)
        if prev == "nodata":
            return nxt, None
        # The instance stays open (same key) when a firing alert loses its data.
        if nxt.started_at is None:
            nxt = replace(nxt, started_at=now)
        return _move(rule, nxt, "nodata", now, None)
    assert sample is not None
    value = sample.value
    cur = replace(previous, evaluated_at=now, value=value)
    if prev == "nodata" and previous.fired_at is not None:
        # Data is back for an alert that was firing: it resolves or goes on firing (same key).
        if rule.cleared(value):
            return _move(rule, cur, "resolved", now, value, close=True)
        return _move(rule, cur, "firing", now, value)
    if prev in ("ok", "resolved", "nodata"):
        if rule.breaches(value):
            # The condition has held since it was first observed, not since this cycle saw it:
            # "non-200 for more than 2 minutes" counts from the probe that saw it first.
            first_seen = min(now, sample.observed_at)
            start = replace(cur, started_at=first_seen, fired_at=None)
            if rule.for_s <= 0:
                return _move(rule, replace(start, fired_at=now), "firing", now, value)
            return _move(rule, start, "pending", now, value)
        if prev == "nodata":
            return _move(rule, cur, "ok", now, value, close=True)
        return cur, None
    if prev == "pending":
        if rule.cleared(value):
            return _move(rule, cur, "ok", now, value, close=True)
        started = previous.started_at or now
        held = (now - started).total_seconds()
        if rule.breaches(value) and held >= rule.for_s:
            return _move(rule, replace(cur, fired_at=now), "firing", now, value)
        return cur, None
    # firing
    if rule.cleared(value):
        return _move(rule, cur, "resolved", now, value, close=True)
    return cur, None


def _move(
    rule: AlertRule,
    state: SeriesState,
    to: State,
    now: datetime,
    value: float | None,
    *,
    close: bool = False,
) -> tuple[SeriesState, Transition | None]:
    key = state.alert_key or alert_key(rule.id, state.labels, now) or ""
    transition = Transition(
        rule_id=rule.id,
        labels=state.labels,
        alert_key=key,
        from_state=state.state,
        to_state=to,
        at=now,
        value=value,
        threshold=rule.threshold,
        severity=rule.severity,
    )
    nxt = replace(state, state=to, since=now)
    if close:
        nxt = replace(nxt, started_at=None, fired_at=None)
    return nxt, transition


# --- escalation ------------------------------------------------------------------------------

#: A P1 not acknowledged this long after firing goes to the next audience (issue 10).
ESCALATION_STEPS: Final[tuple[tuple[float, str], ...]] = (
    (15 * 60, "secondary"),
    (30 * 60, "manager"),
)


def due_escalations(
    *, severity: str, fired_at: datetime | None, acked: bool, done: int, now: datetime
) -> list[tuple[int, str]]:
    """(level, audience) steps due now for a firing alert that has had ``done`` steps already."""
    if severity != "P1" or fired_at is None or acked:
        return []
    waited = (now - fired_at).total_seconds()
    return [
        (level, audience)
        for level, (after_s, audience) in enumerate(ESCALATION_STEPS, start=1)
        if level > done and waited >= after_s
    ]


# --- ordering for the page -------------------------------------------------------------------


_STATE_RANK: Final[Mapping[str, int]] = {"firing": 0, "nodata": 1, "pending": 2}


def worst_first_key(severity: str, state: str, since: datetime | None) -> tuple[int, int, float]:
    """Sort key: firing before no-data before pending, P1 before P2 before warning, oldest first."""
    return (
        _STATE_RANK.get(state, 9),
        SEVERITY_RANK.get(severity, 9),
        since.timestamp() if since is not None else math.inf,
    )


def format_value(metric: str, value: float | None) -> str:
    """A value as the page shows it ("—" when there is none)."""
    if value is None or math.isnan(value):
        return "—"
    if metric in ("core_health_down", "postgresql_down"):
        return "down" if value > 0.5 else "up"
    unit = METRICS.get(metric, "")
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}".strip()


def format_threshold(rule: AlertRule) -> str:
    if rule.metric in ("core_health_down", "postgresql_down"):
        return "not up"
    sign = ">" if rule.op == "above" else "<"
    return f"{sign} {format_value(rule.metric, rule.threshold)}"


def summarize_counts(states: Sequence[tuple[str, str]]) -> dict[str, int]:
    """{"P1": n, "P2": n, "warning": n} of the (severity, state) pairs that are firing."""
    counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    for severity, state in states:
        if state == "firing" and severity in counts:
            counts[severity] += 1
    return counts
