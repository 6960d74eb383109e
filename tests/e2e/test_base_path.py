"""Behind a reverse proxy at /orca/: the HttpOnly session cookie, media guard and own routes
follow Streamlit's server.baseUrlPath, and a real browser signs in and stays signed in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine

from dashboard.domain.permissions import Role
from tests.e2e.browser import health_probes, screenshot
from tests.e2e.conftest import (
    SHOTS,
    RunningConsole,
    make_login,
    session_cookies,
    sign_in,
    start_console,
)

pytestmark = pytest.mark.e2e
BASE = "/orca"


@pytest.fixture(scope="module")
def based_console(seeded_engine: Engine, db_url: str, redis_url: str) -> Iterator[RunningConsole]:
    running = start_console(db_url, redis_url, name="console-base-path", base_path=BASE)
    yield running
    running.process.stop(timeout_s=10)


def test_sign_in_under_a_base_path(
    based_console: RunningConsole, browser: Any, seeded_engine: Engine
) -> None:
    url = based_console.url
    assert url.endswith(BASE)
    root = url[: -len(BASE)]
    # The console's own routes live under the base path, not beside it.
    assert httpx.get(url + "/status", timeout=10).status_code == 200
    assert httpx.get(root + "/status", timeout=10).status_code == 404
    refused = httpx.post(url + "/api/session", json={"claim": "x" * 30}, timeout=10)
    assert refused.status_code == 403  # the route is there (a bad claim is refused)
    assert httpx.post(root + "/api/session", json={}, timeout=10).status_code in (404, 405)
    # Media under the base path needs a live session.
    assert httpx.get(url + "/media/anything.csv", timeout=10).status_code == 403

    login = make_login(seeded_engine, Role.MANAGER)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        sign_in(page, url, login)
        (cookie,) = session_cookies(context)
        assert cookie["path"] == BASE
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert "orca_session=" not in page.evaluate("document.cookie")
        # The cookie alone signs a new tab in, at a page under the base path.
        other = context.new_page()
        other.goto(url + "/trust_kpis")
        other.wait_for_selector('h1:has-text("Trust KPIs")', timeout=30_000)
        screenshot(other, SHOTS / "base_path_trust_kpis.png")
        # A page's own URL is told where the server is: one probe, at the base path.
        assert health_probes(other) == [f"{BASE}/_stcore/health"]
        other.locator('[data-testid="stSidebar"] a', has_text="Service Health").first.click()
        other.wait_for_selector('h1:has-text("Service Health")', timeout=30_000)
        assert urlsplit(other.url).path in (BASE, BASE + "/")
        other.close()
        # Log out: the server drops the cookie at its base-path route.
        page.get_by_role("button", name="Log out").click()
        page.wait_for_selector('input[aria-label="User name"]', timeout=30_000)
        deadline_ms = 15_000
        while session_cookies(context) and deadline_ms > 0:
            page.wait_for_timeout(100)
            deadline_ms -= 100
        assert session_cookies(context) == []
    finally:
        context.close()
