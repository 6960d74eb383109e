"""Real browser: the runbook button on an incident. On-call dry-runs and runs the runbook the
incident's alert rule names, and sees the run linked on the incident; a manager sees the same
button but cannot press it. The header shows the overdue checklist items with their link."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from dashboard.domain.permissions import Role
from dashboard.runbooks.engine import wait_for
from tests.e2e.browser import screenshot, wait_until_loaded
from tests.e2e.conftest import SHOTS, make_login, sign_in
from tests.harness import declare_incident, generous

pytestmark = pytest.mark.e2e
SIDEBAR = '[data-testid="stSidebar"]'
OUT = Path(os.environ.get("ORCA_SHOTS_DIR", str(SHOTS)))
EXPANDER = "Runbook: Database Connection Issues (named by the alert rule)"


@pytest.fixture(scope="module")
def incident(seeded_engine: Engine) -> int:
    title = f"Database unreachable {secrets.token_hex(4)}"
    return declare_incident(seeded_engine, title, severity="P1", rule_id="database_unreachable")


def _incidents_page(browser: Any, console: str, role: Role, engine: Engine) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    page = context.new_page()
    sign_in(page, console, make_login(engine, role))
    page.locator(SIDEBAR).get_by_role("link", name="Incidents").click()
    page.wait_for_selector('h1:has-text("Incidents")', timeout=30_000)
    wait_until_loaded(page)
    return page


def _runbook_card(page: Any) -> Any:
    expander = page.locator('[data-testid="stExpander"]', has_text=EXPANDER)
    expander.wait_for(timeout=30_000)
    expander.scroll_into_view_if_needed()
    return expander


def test_oncall_runs_the_incidents_runbook(
    console: str, browser: Any, seeded_engine: Engine, incident: int
) -> None:
    page = _incidents_page(browser, console, Role.ONCALL, seeded_engine)
    try:
        header = page.get_by_role("link", name=re.compile(r"Checklists overdue: \d+"))
        assert header.count() == 1
        card = _runbook_card(page)
        card.get_by_role("button", name="Dry run").click()
        card.get_by_text("Nothing has been done yet").wait_for(timeout=30_000)
        assert f"for incident #{incident}" in card.inner_text()
        screenshot(page, OUT / "incident_runbook_dry_run.png")
        card.get_by_role("button", name="Run now").click()
        card.get_by_text("started").first.wait_for(timeout=30_000)
        with seeded_engine.connect() as conn:
            run_id = int(
                conn.execute(
                    text("SELECT max(id) FROM runbook_runs WHERE incident_id = :i"),
                    {"i": incident},
                ).scalar_one()
            )
        assert wait_for(run_id, seeded_engine, timeout_s=generous(60)) == "succeeded"
        page.reload()
        wait_until_loaded(page)
        card = _runbook_card(page)
        link = card.get_by_role("link", name=re.compile(rf"Run #{run_id}: .*succeeded"))
        link.wait_for(timeout=30_000)
        screenshot(page, OUT / "incident_runbook_linked_run.png")
        link.click()
        page.wait_for_selector('h1:has-text("Runbooks")', timeout=30_000)
        wait_until_loaded(page)
        assert f"Run #{run_id}: Database Connection Issues on postgresql" in page.inner_text("body")
    finally:
        page.context.close()


def test_a_manager_sees_the_runbook_but_cannot_press(
    console: str, browser: Any, seeded_engine: Engine, incident: int
) -> None:
    page = _incidents_page(browser, console, Role.MANAGER, seeded_engine)
    try:
        card = _runbook_card(page)
        button = card.get_by_role("button", name="Dry run")
        assert button.count() == 1 and button.is_disabled()
        assert "needs the on-call or admin role" in card.inner_text()
        screenshot(page, OUT / "incident_runbook_manager.png")
    finally:
        page.context.close()
