"""Real browser: headless Chromium opens every page of a running console and screenshots it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from dashboard.domain.permissions import Role
from tests.e2e.browser import screenshot, wait_until_loaded
from tests.e2e.conftest import SHOTS, make_login, sign_in

PAGES = {
    "service_health": "/",
    "trust_kpis": "/trust_kpis",
    "agent_registry": "/agent_registry",
    "agent_detail": "/agent_registry?agent=1",
    "review_queue": "/review_queue",
    "audit": "/audit",
}
# Charts a page must have drawn before it is looked at (the others: whatever it has).
MIN_CHARTS = {"service_health": 3, "trust_kpis": 2}

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def signed_in_context(console: str, browser: object, seeded_engine: Engine) -> Iterator[Any]:
    """A browser context signed in through the real login form, as a user holding every role."""
    context = browser.new_context(viewport={"width": 1400, "height": 2400})  # type: ignore[attr-defined]
    page = context.new_page()
    sign_in(page, console, make_login(seeded_engine, *Role))
    page.close()
    yield context
    context.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_without_errors(console: str, signed_in_context: Any, name: str) -> None:
    page = signed_in_context.new_page()
    try:
        page.goto(console + PAGES[name])
        wait_until_loaded(page, min_charts=MIN_CHARTS.get(name, 0))
        assert page.locator('[data-testid="stException"]').count() == 0
        body = page.inner_text("body")
        assert "Traceback" not in body
        assert "Page not found" not in body
        screenshot(page, SHOTS / f"{name}.png")
        if name == "agent_detail":
            # The hostile name is shown as its characters, never as an element.
            assert page.get_by_text("<img src=x onerror=alert(1)>").count() >= 1
            assert page.locator('img[src="x"]').count() == 0
        if name == "service_health":
            # Traffic (three panels), errors by endpoint, resources (four panels).
            assert page.locator(".js-plotly-plot").count() == 3
            assert page.locator(".js-plotly-plot .cartesianlayer > g.subplot").count() == 3 + 1 + 4
    finally:
        page.close()
