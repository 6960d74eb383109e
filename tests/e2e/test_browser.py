"""Real browser: headless Chromium opens every page of a running console and screenshots it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine

from dashboard.domain.permissions import Role
from tests.e2e.browser import health_probes, screenshot, wait_until_loaded
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
        # Every page's own URL connects at the first probe, at the server's root: no probe
        # under the page's path and Streamlit's 100 ms retry (dashboard/ui/deep_links.py).
        assert health_probes(page) == ["/_stcore/health"], health_probes(page)
        if name == "service_health":
            # Traffic (three panels), errors by endpoint, resources (four panels).
            assert page.locator(".js-plotly-plot").count() == 3
            assert page.locator(".js-plotly-plot .cartesianlayer > g.subplot").count() == 3 + 1 + 4
    finally:
        page.close()


def test_after_a_deep_link_the_menu_keeps_each_pages_url(
    console: str, signed_in_context: Any
) -> None:
    """Told where the server is, the app still routes by the page's own URL."""
    page = signed_in_context.new_page()
    try:
        page.goto(console + "/trust_kpis?range=7d")
        wait_until_loaded(page, min_charts=2)
        assert health_probes(page) == ["/_stcore/health"]
        assert "15 min buckets" in page.inner_text("body")  # the URL's 7 d range is kept
        page.locator('[data-testid="stSidebar"] a', has_text="Agent Registry").first.click()
        page.wait_for_selector('h1:has-text("Agent Registry")', timeout=30_000)
        assert urlsplit(page.url).path == "/agent_registry"
        page.go_back()
        page.wait_for_selector('h1:has-text("Trust KPIs")', timeout=30_000)
        assert urlsplit(page.url).path == "/trust_kpis"
        page.reload()
        wait_until_loaded(page, min_charts=2)
        assert page.locator('h1:has-text("Trust KPIs")').count() == 1
    finally:
        page.close()
