"""Real browser: an admin adds a contact point, test-sends to a live local endpoint, sees the
delivery log; a manager reads the page without any control; the secret never reaches a page."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from dashboard.data import notify_store as store
from dashboard.data.notifications import enqueue_notification
from dashboard.domain.permissions import Role
from dashboard.worker.notify import run_notify_cycle
from tests.e2e.browser import screenshot, wait_until_loaded
from tests.e2e.conftest import SHOTS, make_login, sign_in
from tests.notify.peers import http_peer

pytestmark = pytest.mark.e2e
SIDEBAR = '[data-testid="stSidebar"]'
LOOKED_AT = Path("/work/shots/notify")
TOKEN = "BrowserSecretTokenQRST"


def _shot(page: Any, name: str) -> None:
    screenshot(page, SHOTS / name)
    if LOOKED_AT.parent.exists():
        LOOKED_AT.mkdir(exist_ok=True)
        shutil.copy(SHOTS / name, LOOKED_AT / name)


def _open(page: Any, console: str, engine: Engine, role: Role) -> None:
    sign_in(page, console, make_login(engine, role))
    page.locator(SIDEBAR).get_by_role("link", name="Contact points").click()
    page.wait_for_selector('h1:has-text("Contact points")', timeout=30_000)
    wait_until_loaded(page)


def test_admin_adds_test_sends_and_reads_the_log(
    console: str, browser: Any, seeded_engine: Engine
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    with http_peer() as peer:
        try:
            _open(page, console, seeded_engine, Role.ADMIN)
            _shot(page, "contact_points_admin_empty.png")
            # The e-mail kind brings its own fields (host, port, from, to, STARTTLS).
            page.locator('[data-testid="stSelectbox"]').first.click()
            page.get_by_role("option", name="E-mail (SMTP)").click()
            page.wait_for_selector('input[aria-label="SMTP host"]', timeout=30_000)
            wait_until_loaded(page)
            _shot(page, "contact_points_add_email.png")
            page.locator('[data-testid="stSelectbox"]').first.click()
            page.get_by_role("option", name="Generic JSON webhook").click()
            page.wait_for_selector('text="Webhook URL"', timeout=30_000)
            wait_until_loaded(page)
            form = page.locator('[data-testid="stForm"]').first
            form.locator('input[aria-label="Name"]').fill("ops webhook (browser)")
            secret_box = form.locator('input[aria-label="Webhook URL"]')
            secret_box.fill(f"{peer.url}/hook/{TOKEN}")
            form.get_by_role("button", name="Add contact point").click()
            page.wait_for_selector("text=Contact point ops webhook (browser) added", timeout=30_000)
            wait_until_loaded(page)
            assert TOKEN not in page.content()

            # Something to deliver, then one delivery cycle (what the worker's job runs);
            # a second contact point nobody listens on shows a retry in the log.
            with seeded_engine.begin() as conn:
                store.insert_contact_point(
                    conn,
                    name="dead webhook (browser)",
                    kind="webhook",
                    audiences=["oncall"],
                    config={},
                    secret="http://127.0.0.1:9/DeadSecretTokenUVWX",
                    secret_hint="••••UVWX",
                    by="test",
                    now=datetime.now(UTC),
                )
            with seeded_engine.begin() as conn:
                enqueue_notification(
                    conn,
                    dedupe_key=f"browser:{datetime.now(UTC).timestamp()}",
                    severity="P1",
                    group_key=f"rule:browser-test-{datetime.now(UTC).timestamp()}",
                    subject="Service Down firing (browser test)",
                    body="ORCA Core /health answered 503 for 2 minutes",
                    source="alerts",
                )
            # In a thread of its own, as in the worker: Playwright's loop runs in this one.
            with ThreadPoolExecutor(1) as pool:
                pool.submit(run_notify_cycle, seeded_engine).result(timeout=60)
            assert any(
                r["subject"].startswith("Service Down firing (browser test)") for r in peer.received
            )

            page.get_by_role("tab", name="Edit, test or disable").click()
            page.locator('[data-testid="stSelectbox"]').nth(1).click()
            page.get_by_role("option", name="ops webhook (browser)").click()
            wait_until_loaded(page)
            page.get_by_role("button", name="Send a test message").click()
            page.wait_for_selector(
                "text=Test message delivered to ops webhook (browser)", timeout=30_000
            )
            wait_until_loaded(page)
            assert len(peer.received) >= 2
            assert TOKEN not in page.content()
            page.wait_for_selector("text=will retry", state="attached", timeout=30_000)
            assert "DeadSecretToken" not in page.content()
            page.get_by_role("tab", name="Edit, test or disable").click()
            _shot(page, "contact_points_admin.png")
        finally:
            context.close()


def test_manager_reads_the_page_without_controls(
    console: str, browser: Any, seeded_engine: Engine
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        _open(page, console, seeded_engine, Role.MANAGER)
        page.wait_for_selector("text=Read-only: only administrators", timeout=30_000)
        assert page.get_by_role("button", name="Add contact point").count() == 0
        assert page.get_by_role("button", name="Send a test message").count() == 0
        assert page.locator('input[type="password"]').count() == 0
        assert TOKEN not in page.content()
        _shot(page, "contact_points_manager.png")
    finally:
        context.close()
