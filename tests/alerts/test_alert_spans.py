"""OpenTelemetry spans of the alert job and the delivery job: one ``alerts.evaluate`` per
cycle with its counts, one ``notify.deliver`` per attempt with the contact point's kind and
the outcome, and never a secret or URL in any attribute."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import redis
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from sqlalchemy import Engine

from dashboard.worker.alerts import run_alert_cycle
from dashboard.worker.notify import run_notify_cycle
from tests.alerts.test_pagerduty_events import RULES, _add_point, _disk
from tests.notify.conftest import fast_settings
from tests.notify.peers import http_peer

T0 = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)


def test_one_span_per_cycle_and_per_delivery_attempt_without_secrets(
    db: Engine,
    redis_client: redis.Redis,
    spans: InMemorySpanExporter,
) -> None:
    spans.clear()
    with http_peer(ok_status=202) as pd, http_peer(fail_first=1) as hook:
        _add_point(db, "pagerduty", "PDSPANSECRETKEY00042", {"url": pd.url + "/v2/enqueue"})
        _add_point(db, "webhook", hook.url + "/hook/zzSpanWebhookToken", {})
        _disk(db, T0, **{"core-7": 97})
        run_alert_cycle(db, redis_client, now=T0, rules=RULES)
        run_alert_cycle(db, redis_client, now=T0 + timedelta(seconds=1), rules=RULES)
        run_notify_cycle(db, clock=lambda: T0, settings=fast_settings())

    cycles = [s for s in spans.get_finished_spans() if s.name == "alerts.evaluate"]
    assert len(cycles) == 2
    first, second = (dict(c.attributes or {}) for c in cycles)
    assert first["orca.alerts.rules"] == 1
    assert first["orca.alerts.transitions"] == 1 and first["orca.alerts.firing"] == 1
    assert first["orca.alerts.notified"] == 1 and first["orca.alerts.skipped"] == ""
    assert second["orca.alerts.transitions"] == 0
    assert second["orca.alerts.skipped"] == "evaluated moments ago"

    deliveries = [s for s in spans.get_finished_spans() if s.name == "notify.deliver"]
    by_kind = {str((d.attributes or {})["orca.notify.kind"]): d for d in deliveries}
    assert set(by_kind) == {"pagerduty", "webhook"}
    pd_attrs = dict(by_kind["pagerduty"].attributes or {})
    assert pd_attrs["orca.notify.outcome"] == "sent"
    assert pd_attrs["orca.notify.status_code"] == 202
    assert pd_attrs["orca.notify.attempt"] == 1
    hook_span = by_kind["webhook"]
    assert dict(hook_span.attributes or {})["orca.notify.outcome"] == "retry"
    assert hook_span.status.status_code == StatusCode.ERROR
    dumped = json.dumps([dict(s.attributes or {}) for s in spans.get_finished_spans()])
    for secret in ("PDSPANSECRETKEY00042", "zzSpanWebhookToken", "127.0.0.1"):
        assert secret not in dumped
