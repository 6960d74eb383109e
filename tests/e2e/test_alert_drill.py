"""The end-to-end drill: health_down on the stand-in -> Service Down fires -> P1 incident ->
the primary is notified -> on-call acknowledges in the browser -> fault cleared -> resolved ->
the incident timeline shows each step with its time.

Real time throughout (about three minutes): the rule keeps its real 2-minute for-duration,
probes run every 5 s and the alert job every 15 s, as a worker would.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text

from dashboard.core.faults import clear_fault, inject_fault
from dashboard.data.alert_rules import load_rules
from dashboard.domain.permissions import Role
from dashboard.integrations.probes import core_probe
from dashboard.worker.alerts import run_alert_cycle
from dashboard.worker.probes import run_probe_job
from tests.e2e.browser import screenshot, wait_until_loaded
from tests.e2e.conftest import SHOTS, make_login, sign_in
from tests.harness import generous, running_standin

pytestmark = pytest.mark.e2e
RULES = {r.id: r for r in load_rules() if r.id == "service_down"}
INTERVAL_S = 15.0
PROBE_S = 5.0


class MiniWorker(threading.Thread):
    """The worker's probe and alert jobs on their intervals (probes 5 s, alerts 15 s)."""

    def __init__(self, engine: Engine, client: redis.Redis, core_url: str) -> None:
        super().__init__(daemon=True)
        self.engine, self.client = engine, client
        self.probes = [core_probe(core_url + "/health", connect_timeout_s=1, read_timeout_s=2)]
        self.stop_event = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        next_probe = next_alert = time.monotonic()
        while not self.stop_event.is_set():
            try:
                if time.monotonic() >= next_probe:
                    next_probe += PROBE_S
                    run_probe_job(self.engine, self.client, probes=self.probes)
                if time.monotonic() >= next_alert:
                    next_alert += INTERVAL_S
                    run_alert_cycle(self.engine, self.client, interval_s=INTERVAL_S, rules=RULES)
            except Exception as exc:
                self.errors.append(f"{exc.__class__.__name__}: {exc}")
            self.stop_event.wait(0.5)


def _state(engine: Engine) -> tuple[str | None, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT state, acked_by FROM alert_states WHERE rule_id = 'service_down'")
        ).first()
    return (row.state, row.acked_by) if row is not None else (None, None)


def _wait(engine: Engine, want: str, timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if _state(engine)[0] == want:
            return time.monotonic() - started
        time.sleep(1)
    raise AssertionError(f"service_down not {want} after {timeout_s:.0f} s: {_state(engine)}")


def test_health_down_drill_end_to_end(
    console: str, browser: Any, seeded_engine: Engine, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    with seeded_engine.begin() as conn:
        conn.execute(text("DELETE FROM alert_states WHERE rule_id = 'service_down'"))
    with running_standin(seeded_engine, redis_url, traffic=False) as core:
        worker = MiniWorker(seeded_engine, client, core.url)
        worker.start()
        try:
            _wait(seeded_engine, "ok", generous(30))
            injected = datetime.now(UTC)
            inject_fault(client, "health_down", "10m", by="drill-test")
            took = _wait(seeded_engine, "firing", 120 + generous(PROBE_S + INTERVAL_S + 25))
            assert took > 0
            with seeded_engine.connect() as conn:
                fired = conn.execute(
                    text(
                        "SELECT alert_key, at FROM alert_history WHERE rule_id = 'service_down' "
                        "AND to_state = 'firing' AND at >= :t ORDER BY at DESC LIMIT 1"
                    ),
                    {"t": injected},
                ).one()
                incident = conn.execute(
                    text("SELECT id, severity FROM incidents WHERE alert_key = :k"),
                    {"k": fired.alert_key},
                ).one()
                paged = conn.execute(
                    text(
                        "SELECT audience, severity FROM notification_outbox WHERE dedupe_key = :d"
                    ),
                    {"d": f"{fired.alert_key}:firing"},
                ).one()
            delay = (fired.at - injected).total_seconds()
            print(f"drill: fault injected -> firing in {delay:.1f} s (target <= 140 s)")
            # The 2-minute for-duration counts from the first probe that saw it (<= one probe
            # interval after the fault), then the next evaluation (<= one interval) fires it.
            # Never before the for-duration; the upper bound allows for a loaded machine (the
            # target itself, for-duration + 15 s, is measured by the bench, not asserted here).
            assert 120 <= delay <= 120 + generous(PROBE_S + INTERVAL_S + 15), delay
            assert incident.severity == "P1"
            assert (paged.audience, paged.severity) == ("oncall", "P1")

            # The primary acknowledges in the browser.
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            try:
                sign_in(page, console, make_login(seeded_engine, Role.ONCALL))
                page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Alerts").click()
                page.wait_for_selector('h1:has-text("Alerts")', timeout=30_000)
                wait_until_loaded(page)
                # The forms sit under the self-refreshing list: choose the alert there.
                act = page.locator(".st-key-alerts-act")
                act.locator('[data-testid="stSelectbox"]').first.click()
                page.get_by_role("option").filter(has_text="Service Down").first.click()
                wait_until_loaded(page)
                note = act.locator('input[aria-label="Acknowledge: your note"]')
                note.fill("drill: restarting ORCA Core")
                note.press("Enter")
                act.get_by_role("button", name="Acknowledge…").click()
                page.get_by_role("button", name="Confirm acknowledge").click()
                page.wait_for_selector("text=you own this alert", timeout=30_000)
                screenshot(page, SHOTS / "alerts_drill_acked.png")
            finally:
                context.close()
            assert _state(seeded_engine)[1] is not None

            clear_fault(client, "health_down")
            _wait(seeded_engine, "resolved", generous(INTERVAL_S + 15))
            with seeded_engine.connect() as conn:
                timeline = conn.execute(
                    text(
                        "SELECT kind, at FROM incident_timeline WHERE incident_id = :i "
                        "ORDER BY at, id"
                    ),
                    {"i": incident.id},
                ).all()
            kinds = [t.kind for t in timeline]
            assert "alert.firing" in kinds, kinds
            assert "alert.acknowledged" in kinds, kinds
            assert kinds[-1] == "alert.resolved", kinds
            assert all(t.at is not None for t in timeline)
            assert worker.errors == [], worker.errors
        finally:
            worker.stop_event.set()
            worker.join(timeout=30)
            clear_fault(client)
