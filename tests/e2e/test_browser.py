"""Real browser: headless Chromium opens every page of a running console and screenshots it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import SEED_NOW
from tests.e2e.browser import CHROMIUM, launch, screenshot, wait_until_loaded

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
PAGES = {
    "service_health": "/",
    "trust_kpis": "/trust_kpis",
    "agent_registry": "/agent_registry",
    "agent_detail": "/agent_registry?agent=1",
}

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def console(seeded_engine: Engine, db_url: str, redis_url: str) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: `make test` installs it (apt-get install chromium)")
    port = _free_port()
    env = {**os.environ, "ORCA_DATABASE_URL": db_url, "ORCA_REDIS_URL": redis_url,
           "ORCA_FIXED_NOW": SEED_NOW.isoformat()}
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "dashboard.ui.serve", "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/_stcore/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the console did not start within 60 s")
    yield base
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_without_errors(console: str, browser: object, name: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 2400})  # type: ignore[attr-defined]
    try:
        page.goto(console + PAGES[name])
        wait_until_loaded(page)
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
            assert page.locator(".js-plotly-plot").count() >= 6
    finally:
        page.close()
