"""Real browser: on-call acknowledges an alert on the Alerts page; a manager only reads it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text

from dashboard.data import alerts as store
from dashboard.data.alert_rules import current_rules
from dashboard.domain.permissions import Role
from tests.alerts.support import firing_alert
from tests.e2e.browser import screenshot, wait_until_loaded
from tests.e2e.conftest import SHOTS, make_login, sign_in

pytestmark = pytest.mark.e2e
SIDEBAR = '[data-testid="stSidebar"]'
HOSTILE = "instance=<img src=x onerror=window.__pwned=1>[click](https://evil.example)"
OWN_SHOTS = Path("/work/shots/alerts")


def _seed(engine: Engine, redis_url: str) -> str:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM alert_states"))
    key = firing_alert(
        engine, rule_id="service_down", severity="P1", value=1.0, threshold=0.5, labels=""
    )
    firing_alert(engine, rule_id="disk_high", labels=HOSTILE)
    firing_alert(engine, rule_id="trust_score_watch", value=66.0, threshold=70.0, labels="")
    with engine.connect() as conn:
        store.publish(conn, redis.Redis.from_url(redis_url), current_rules(), now=datetime.now(UTC))
    return key


def _open_alerts(page: Any, console: str, engine: Engine, role: Role) -> None:
    sign_in(page, console, make_login(engine, role))
    page.locator(SIDEBAR).get_by_role("link", name="Alerts").click()
    page.wait_for_selector('h1:has-text("Alerts")', timeout=30_000)
    wait_until_loaded(page)


def _shot(page: Any, name: str) -> None:
    screenshot(page, SHOTS / name)
    if OWN_SHOTS.parent.exists():
        screenshot(page, OWN_SHOTS / name)


def test_oncall_acknowledges_in_the_browser(
    console: str, browser: Any, seeded_engine: Engine, redis_url: str
) -> None:
    key = _seed(seeded_engine, redis_url)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        _open_alerts(page, console, seeded_engine, Role.ONCALL)
        body = page.locator('[data-testid="stMain"]')
        assert "P1 firing: 1" in body.inner_text()  # the header strip on this page
        assert "Service Down" in body.inner_text()
        # Hostile labels are text: no image element, no link to the evil host, no script ran.
        assert page.locator('[data-testid="stMain"] img[src="x"]').count() == 0
        assert page.locator('a[href^="https://evil"]').count() == 0
        assert page.evaluate("window.__pwned === undefined")
        assert "onerror" in body.inner_text()
        _shot(page, "alerts_oncall.png")
        page.locator('input[aria-label="Acknowledge: your note"]').first.fill("restarting core")
        page.locator('input[aria-label="Acknowledge: your note"]').first.press("Enter")
        page.get_by_role("button", name="Acknowledge…").first.click()
        page.get_by_role("button", name="Confirm acknowledge").click()
        page.wait_for_selector("text=you own this alert", timeout=30_000)
        wait_until_loaded(page)
        assert "Acknowledged by" in body.inner_text()
        _shot(page, "alerts_acked.png")
        with seeded_engine.connect() as conn:
            acked = conn.execute(
                text("SELECT acked_key FROM alert_states WHERE rule_id = 'service_down'")
            ).scalar()
        assert acked == key
    finally:
        context.close()


def test_manager_reads_alerts_without_action_buttons(
    console: str, browser: Any, seeded_engine: Engine, redis_url: str
) -> None:
    _seed(seeded_engine, redis_url)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        _open_alerts(page, console, seeded_engine, Role.MANAGER)
        text_now = page.locator('[data-testid="stMain"]').inner_text()
        assert "Service Down" in text_now and "You can read alerts" in text_now
        assert page.get_by_role("button", name="Acknowledge…").count() == 0
        assert page.get_by_role("button", name="Silence…").count() == 0
        _shot(page, "alerts_manager.png")
        trust = (
            page.locator('[class*="st-key-alerts-a"][class*="-box"]')
            .filter(has_text="Trust score under 70")
            .first
        )
        assert "Agents driving this alert" in trust.inner_text()
        assert "Trust score" in trust.inner_text()  # the drivers table's column
        if OWN_SHOTS.parent.exists():
            OWN_SHOTS.mkdir(parents=True, exist_ok=True)
            trust.screenshot(path=str(OWN_SHOTS / "alerts_trust_drivers.png"))
        page.get_by_role("tab", name="History").click()
        wait_until_loaded(page)
        _shot(page, "alerts_history.png")
    finally:
        context.close()


def _wait_for_text(page: Any, text_wanted: str, *, timeout_s: float = 60) -> None:
    """Bounded wait for ``text_wanted`` in the main area (no reload: the page must update)."""
    page.wait_for_function(
        "t => document.querySelector('[data-testid=\"stMain\"]').innerText.includes(t)",
        arg=text_wanted,
        timeout=timeout_s * 1000,
    )


def test_the_list_and_header_follow_the_worker_without_a_reload_and_keep_the_note(
    console: str, browser: Any, seeded_engine: Engine, redis_url: str
) -> None:
    _seed(seeded_engine, redis_url)
    client = redis.Redis.from_url(redis_url)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        _open_alerts(page, console, seeded_engine, Role.ONCALL)
        body = page.locator('[data-testid="stMain"]')
        assert "P2 firing: 0" in body.inner_text()
        url_before = page.url
        note = page.locator('input[aria-label="Acknowledge: your note"]').first
        note.fill("half-typed note, not yet sent")  # typed, not committed (no Enter, no blur)

        # The worker moves a value on: only the list refreshes, the typed note stays.
        with seeded_engine.begin() as conn:
            conn.execute(text("UPDATE alert_states SET value = 97.5 WHERE rule_id = 'disk_high'"))
            store.publish(conn, client, current_rules(), now=datetime.now(UTC))
        _wait_for_text(page, "97.5")
        assert note.input_value() == "half-typed note, not yet sent"

        # A new P2 fires: the list and the header strip follow, the note is still there.
        firing_alert(
            seeded_engine,
            rule_id="sync_lag_high",
            severity="P2",
            value=400.0,
            threshold=300.0,
            labels="",
        )
        with seeded_engine.connect() as conn:
            store.publish(conn, client, current_rules(), now=datetime.now(UTC))
        _wait_for_text(page, "P2 firing: 1")
        _wait_for_text(page, "Sync Lag High")
        wait_until_loaded(page)
        assert page.url == url_before, "no navigation happened"
        note = page.locator('input[aria-label="Acknowledge: your note"]').first
        assert note.input_value() == "half-typed note, not yet sent"
        _shot(page, "alerts_refreshed.png")
    finally:
        context.close()
