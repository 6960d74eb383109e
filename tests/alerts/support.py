"""Test helpers: put a firing alert or an active silence straight into the database."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from dashboard.domain.alerting import alert_key


def firing_alert(
    engine: Engine,
    *,
    rule_id: str = "disk_high",
    severity: str = "warning",
    value: float = 91.0,
    threshold: float = 80.0,
    labels: str | None = None,
    started_at: datetime | None = None,
) -> str:
    """A firing series of ``rule_id`` (fresh labels each call); returns its alert_key."""
    labels = labels if labels is not None else f"instance=t-{secrets.token_hex(4)}"
    start = (started_at or datetime.now(UTC) - timedelta(minutes=3)).replace(microsecond=0)
    with engine.begin() as conn:
        conn.execute(
            text(
                """INSERT INTO alert_states (rule_id, labels, state, severity, since, started_at,
                       fired_at, value, threshold, evaluated_at, recent)
                   VALUES (:r, :l, 'firing', :s, :t, :t, :t, :v, :th, :t,
                       CAST(:recent AS jsonb))"""
            ),
            {
                "r": rule_id,
                "l": labels,
                "s": severity,
                "t": start,
                "v": value,
                "th": threshold,
                "recent": f'[["{start.isoformat()}", {value}]]',
            },
        )
    key = alert_key(rule_id, labels, start)
    assert key is not None
    return key


def active_silence(engine: Engine, *, rule_id: str = "disk_high") -> int:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    """INSERT INTO alert_silences (rule_id, labels, comment, created_by,
                           created_at, ends_at) VALUES (:r, NULL, 'test', 'tester', :n, :e)
                       RETURNING id"""
                ),
                {"r": rule_id, "n": now, "e": now + timedelta(hours=1)},
            ).scalar_one()
        )
