"""Real browser: a manager opens Reports, SLA Review and Capacity, generates and downloads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from dashboard.domain.permissions import Role
from tests.e2e.browser import screenshot, wait_until_loaded
from tests.e2e.conftest import SHOTS, make_login, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def manager(console: str, browser: object, seeded_engine: Engine) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 2000}, accept_downloads=True)  # type: ignore[attr-defined]
    page = context.new_page()
    sign_in(page, console, make_login(seeded_engine, Role.MANAGER))
    page.close()
    yield context
    context.close()


def _clean(page: Any) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    body = page.inner_text("body")
    assert "Traceback" not in body and "Page not found" not in body


def test_manager_menu_lists_the_report_pages(console: str, manager: Any) -> None:
    page = manager.new_page()
    try:
        page.goto(console + "/")
        page.wait_for_selector('[data-testid="stSidebar"] a', timeout=30_000)
        menu = page.inner_text('[data-testid="stSidebar"]')
        for title in ("Reports", "SLA Review", "Capacity"):
            assert title in menu
    finally:
        page.close()


def test_reports_page_generates_and_downloads_a_pdf(console: str, manager: Any) -> None:
    page = manager.new_page()
    try:
        page.goto(console + "/reports")
        page.wait_for_selector('h1:has-text("Reports")', timeout=30_000)
        page.get_by_role("button", name="Generate report").click()
        page.wait_for_selector("text=is ready", timeout=60_000)
        page.wait_for_selector("text=Download PDF", timeout=30_000)
        wait_until_loaded(page)
        _clean(page)
        screenshot(page, SHOTS / "reports.png")
        with page.expect_download(timeout=30_000) as info:
            page.get_by_role("button", name="Download PDF").click()
        path = info.value.path()
        with open(path, "rb") as fh:
            assert fh.read(5) == b"%PDF-"
        assert info.value.suggested_filename.endswith(".pdf")
    finally:
        page.close()


@pytest.mark.parametrize(
    ("path", "title", "needle"),
    [
        ("/sla_review", "SLA Review", "Uptime per component"),
        ("/capacity", "Capacity Planning", "Growth and forecasts"),
    ],
)
def test_review_pages(console: str, manager: Any, path: str, title: str, needle: str) -> None:
    page = manager.new_page()
    try:
        page.goto(console + path)
        page.wait_for_selector(f'h1:has-text("{title}")', timeout=30_000)
        page.wait_for_selector(f"text={needle}", timeout=60_000)
        if path == "/sla_review":
            # The seeded data lie in the quarter under way: pick it instead of the last full one.
            page.locator('[data-testid="stSelectbox"]').first.click()
            page.get_by_role("option", name="2026 Q4 (so far)").click()
            page.wait_for_selector("text=Violations resolved late", timeout=60_000)
        wait_until_loaded(page, min_charts=1)
        _clean(page)
        screenshot(page, SHOTS / f"{path.strip('/')}.png")
    finally:
        page.close()
