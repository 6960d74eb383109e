"""Real browser: Backups, Doctor and Checklists as on-call (presses) and as a manager (reads)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

from dashboard.domain.permissions import Role
from tests.e2e.browser import screenshot, wait_until_loaded
from tests.e2e.conftest import SHOTS, make_login, sign_in

pytestmark = pytest.mark.e2e
SIDEBAR = '[data-testid="stSidebar"]'


def _open(page: Any, link: str, title: str) -> None:
    page.locator(SIDEBAR).get_by_role("link", name=link).click()
    page.wait_for_selector(f'h1:has-text("{title}")', timeout=30_000)
    wait_until_loaded(page)


def test_oncall_backs_up_and_signs_off(console: str, browser: Any, seeded_engine: Engine) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, console, make_login(seeded_engine, Role.ONCALL))
        _open(page, "Backups", "Backups")
        page.get_by_role("button", name="Back up now…").click()
        page.wait_for_selector("text=Take a backup now", timeout=30_000)
        page.get_by_role("button", name="Back up now", exact=True).click()
        page.wait_for_selector("text=/Backup \\d+ done/", timeout=240_000)
        wait_until_loaded(page)
        screenshot(page, SHOTS / "backups_oncall.png")
        with seeded_engine.connect() as conn:
            assert (
                conn.execute(
                    text("SELECT status FROM backups ORDER BY id DESC LIMIT 1")
                ).scalar_one()
                == "ok"
            )

        _open(page, "Doctor", "Doctor")
        page.wait_for_selector("text=migrations", timeout=60_000)
        for name in ("postgresql", "pgvector", "disk", "backup", "tls"):
            page.get_by_text(name, exact=True).first.wait_for(timeout=30_000)
        screenshot(page, SHOTS / "doctor.png")

        _open(page, "Checklists", "Maintenance checklists")
        # The Daily tab's first item ("Check dashboard for anomalies") is signed off by hand.
        page.get_by_role("button", name="Sign off…").first.click()
        confirm = page.get_by_role("button", name="Sign off", exact=True)
        try:
            confirm.wait_for(timeout=30_000)
        finally:
            screenshot(page, SHOTS / "checklists_staged.png")
        confirm.click()
        page.wait_for_selector("text=Signed off for", timeout=30_000)
        screenshot(page, SHOTS / "checklists_oncall.png")
    finally:
        context.close()


def test_manager_sees_but_cannot_press(console: str, browser: Any, seeded_engine: Engine) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, console, make_login(seeded_engine, Role.MANAGER))
        _open(page, "Backups", "Backups")
        button = page.get_by_role("button", name="Back up now…")
        assert button.is_disabled()
        assert page.get_by_role("button", name="DR drill…").is_disabled()
        screenshot(page, SHOTS / "backups_manager.png")
        _open(page, "Checklists", "Maintenance checklists")
        first = page.get_by_role("button", name="Sign off…").first
        assert first.is_disabled()
        screenshot(page, SHOTS / "checklists_manager.png")
    finally:
        context.close()
