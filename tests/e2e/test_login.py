"""Real browser: sign in, be refused a page, log out, and find an old cookie worthless."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from dashboard.domain.permissions import Role
from tests.e2e.browser import screenshot
from tests.e2e.conftest import SHOTS, make_login, sign_in

pytestmark = pytest.mark.e2e
LOGIN_FIELD = 'input[aria-label="User name"]'


def _new_context(browser: Any) -> Any:
    return browser.new_context(viewport={"width": 1400, "height": 1000})


def test_login_page_and_a_wrong_password(console: str, browser: Any, seeded_engine: Engine) -> None:
    login = make_login(seeded_engine, Role.MANAGER)
    context = _new_context(browser)
    page = context.new_page()
    try:
        page.goto(console + "/audit")  # a page by URL, signed out: the login form, nothing else
        page.wait_for_selector(LOGIN_FIELD, timeout=30_000)
        assert page.locator('h1:has-text("Audit Trail")').count() == 0
        screenshot(page, SHOTS / "login.png")
        page.fill(LOGIN_FIELD, login.username)
        page.fill('input[aria-label="Password"]', "wrong-" + login.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector('[data-testid="stAlert"]:has-text("Sign-in failed")', timeout=30_000)
        assert "orca_session=" not in page.evaluate("document.cookie")
    finally:
        context.close()


def test_refused_page_logout_and_replayed_cookie(
    console: str, browser: Any, seeded_engine: Engine
) -> None:
    login = make_login(seeded_engine, Role.MANAGER)
    context = _new_context(browser)
    page = context.new_page()
    try:
        sign_in(page, console, login)
        menu = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "Agent Registry" in menu and "Review Queue" not in menu
        cookies = [c for c in context.cookies() if c["name"] == "orca_session"]
        assert len(cookies) == 1

        # A manager opening the review queue by URL is refused in plain words.
        page.goto(console + "/review_queue")
        page.wait_for_selector("text=You don't have access to this page", timeout=30_000)
        assert page.locator('h1:has-text("Discovery Review Queue")').count() == 0
        screenshot(page, SHOTS / "access_denied.png")

        # The cookie alone signs a new tab in.
        other = context.new_page()
        other.goto(console + "/trust_kpis")
        other.wait_for_selector('h1:has-text("Trust KPIs")', timeout=30_000)
        other.close()

        # Log out: back to the login form, the session is ended on the server.
        page.goto(console + "/")
        page.wait_for_selector('h1:has-text("Service Health")', timeout=30_000)
        page.get_by_role("button", name="Log out").click()
        page.wait_for_selector(LOGIN_FIELD, timeout=30_000)
        screenshot(page, SHOTS / "login_after_logout.png")
    finally:
        context.close()

    # Replay the old cookie in a fresh browser: refused, back to the login form.
    fresh = _new_context(browser)
    try:
        fresh.add_cookies(cookies)
        replay = fresh.new_page()
        replay.goto(console + "/trust_kpis")
        replay.wait_for_selector(LOGIN_FIELD, timeout=30_000)
        assert replay.locator('h1:has-text("Trust KPIs")').count() == 0
    finally:
        fresh.close()
