"""Real browser: on-call runs a runbook (dry run -> typed confirm -> run) against a supervised
stand-in; the running run survives a refresh and another user (a manager, who cannot press)
watches the same run to its end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from dashboard.core.faults import clear_fault, inject_fault
from dashboard.domain.permissions import Role
from tests.e2e.browser import screenshot, wait_until_loaded
from tests.e2e.conftest import RunningConsole, make_login, sign_in, start_console
from tests.harness import wait_for
from tests.runbooks.conftest import Supervised, start_supervised

pytestmark = pytest.mark.e2e
SHOTS = Path(os.environ.get("ORCA_SHOTS_DIR", "/work/shots/runbooks"))
SIDEBAR = '[data-testid="stSidebar"]'


@pytest.fixture(scope="module")
def runbook_stack(
    tmp_path_factory: pytest.TempPathFactory, seeded_engine: Engine, db_url: str, redis_url: str
) -> Iterator[tuple[Supervised, RunningConsole]]:
    root = tmp_path_factory.mktemp("runbook-stack")
    with start_supervised(root, db_url, redis_url) as sup:
        console = start_console(
            db_url,
            redis_url,
            name="runbooks-console",
            ORCA_STATE_DIR=str(root),
            ORCA_CORE_URL=sup.url,
            ORCA_OTEL_HEALTH_URL=sup.settings.otel_health_url,
            ORCA_OTLP_ENDPOINT=sup.settings.otlp_endpoint,
        )
        try:
            yield sup, console
        finally:
            console.process.stop(timeout_s=10)


def _open_runbooks(page: Any) -> None:
    page.locator(SIDEBAR).get_by_role("link", name="Runbooks").click()
    page.wait_for_selector('h1:has-text("Runbooks")', timeout=30_000)
    wait_until_loaded(page)


def test_a_run_survives_a_refresh_and_another_user_watches_it(
    runbook_stack: tuple[Supervised, RunningConsole],
    browser: Any,
    seeded_engine: Engine,
    redis_url: str,
) -> None:
    sup, console = runbook_stack
    client = redis.Redis.from_url(redis_url)
    inject_fault(client, "collector_down", "10m", by="e2e")
    oncall_ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    manager_ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = oncall_ctx.new_page()
        sign_in(page, console.url, make_login(seeded_engine, Role.ONCALL))
        _open_runbooks(page)
        screenshot(page, SHOTS / "catalogue_oncall.png")
        card = page.locator(".st-key-runbooks-card-telemetry")
        card.get_by_label("Watch for new export errors for (s)").fill("25")
        card.get_by_label("Watch for new export errors for (s)").press("Enter")
        wait_until_loaded(page)
        card.get_by_role("button", name="Dry run").click()
        try:
            page.wait_for_selector("text=Nothing has been done yet", timeout=60_000)
        except Exception:
            screenshot(page, SHOTS / "failure_dry_run.png")
            raise
        wait_until_loaded(page)
        screenshot(page, SHOTS / "dry_run.png")
        page.get_by_role("button", name="Run now").click()
        page.wait_for_selector("text=Run #", timeout=30_000)
        wait_until_loaded(page)
        assert "run=" in page.url
        run_url = page.url
        page.wait_for_selector("text=Switch to console export", timeout=30_000)
        screenshot(page, SHOTS / "run_running.png")
        page.reload()  # the run goes on and is shown again after a refresh
        page.wait_for_selector("text=Run #", timeout=30_000)
        wait_until_loaded(page)
        assert page.get_by_text("Telemetry Not Flowing on orca-core").count() >= 1

        other = manager_ctx.new_page()
        sign_in(other, console.url, make_login(seeded_engine, Role.MANAGER))
        other.goto(run_url.replace(console.url, console.url))
        other.wait_for_selector("text=Run #", timeout=30_000)
        wait_until_loaded(other)
        assert other.get_by_role("button", name="Dry run").first.is_disabled()
        # The detail reruns every 10 s while the run is active, until it has finished.
        other.wait_for_selector("text=The run succeeded", timeout=90_000)
        wait_until_loaded(other)
        screenshot(other, SHOTS / "run_done_manager.png")
        assert other.get_by_text("0 export errors").count() >= 1
        assert wait_for(
            lambda: sup.proc.env_overrides.get("OTEL_TRACES_EXPORTER") == "console", timeout_s=5
        )
    finally:
        clear_fault(client)
        oncall_ctx.close()
        manager_ctx.close()
        client.close()
