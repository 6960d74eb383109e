"""Real browser: the Incidents and On-call pages as oncall and as manager, and the public
status page signed out (public updates only, no internal note, title or agent name)."""

from __future__ import annotations

import os
import secrets
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from dashboard.actions import incidents, oncall
from dashboard.actions.base import cli_actor
from dashboard.domain.permissions import Role
from tests.conftest import SEED_NOW
from tests.e2e.browser import screenshot, wait_until_loaded
from tests.e2e.conftest import SHOTS, Login, make_login, sign_in

pytestmark = pytest.mark.e2e
SIDEBAR = '[data-testid="stSidebar"]'
OUT = Path(os.environ.get("ORCA_SHOTS_DIR", str(SHOTS)))
NOTE = f"INTERNAL-{secrets.token_hex(3)} db creds rotated"
UPDATE = f"Checkout is slow for some customers; we are on it ({secrets.token_hex(2)})"


@pytest.fixture(scope="module")
def scene(seeded_engine: Engine) -> dict[str, Any]:
    """A rotation, a breached P1 with a note and a public update, a P3 in time."""
    admin = cli_actor()
    primary = make_login(seeded_engine, Role.ONCALL)
    backup = make_login(seeded_engine, Role.ONCALL)
    boss = make_login(seeded_engine, Role.MANAGER)
    with seeded_engine.connect() as conn:
        version = conn.execute(text("SELECT version FROM oncall_rotation")).scalar()
    saved = oncall.save_rotation(
        seeded_engine,
        admin,
        primary=[primary.username, backup.username],
        secondary=[backup.username],
        manager=[boss.username],
        handover_weekday=0,
        handover_hour=9,
        timezone="Europe/Paris",
        anchor=date(2026, 11, 16),
        expected_version=int(version or 0),
    )
    assert saved.ok, saved
    key = secrets.token_hex(4)
    assert incidents.declare(
        seeded_engine,
        admin,
        title="Checkout API returns 503",
        severity="P1",
        request_key=f"e2e-p1-{key}",
        now=SEED_NOW - timedelta(minutes=25),
    ).ok
    with seeded_engine.connect() as conn:
        p1 = int(conn.execute(text("SELECT max(id) FROM incidents")).scalar_one())
    assert incidents.add_note(seeded_engine, admin, p1, NOTE, request_key=f"n{key}").ok
    assert incidents.post_status_update(seeded_engine, admin, p1, UPDATE, request_key=f"u{key}").ok
    assert incidents.declare(
        seeded_engine,
        admin,
        title="Sync lag on one source",
        severity="P3",
        request_key=f"e2e-p3-{key}",
        now=SEED_NOW - timedelta(minutes=40),
    ).ok
    return {"p1": p1, "primary": primary, "boss": boss}


def _open(page: Any, name: str, title: str) -> None:
    page.locator(SIDEBAR).get_by_role("link", name=name).click()
    page.wait_for_selector(f'h1:has-text("{title}")', timeout=30_000)
    wait_until_loaded(page)
    page.wait_for_timeout(800)  # tables draw on a canvas after the run ends


def _signed_in(browser: Any, console: str, login: Login) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    sign_in(page, console, login)
    return page


def test_oncall_works_incidents_and_sees_who_is_on_call(
    console: str, browser: Any, seeded_engine: Engine, scene: dict[str, Any]
) -> None:
    responder = make_login(seeded_engine, Role.ONCALL)
    page = _signed_in(browser, console, responder)
    try:
        assert f"On call now: {scene['primary'].username}" in page.inner_text("body")
        _open(page, "Incidents", "Incidents")
        body = page.inner_text("body")
        assert "response overdue by" in body  # the P1 declared 25 min ago, 15 min target
        assert "left to respond" in body  # the P3
        assert page.get_by_text("Declare an incident").count() == 1
        screenshot(page, OUT / "incidents_oncall.png")
        page.get_by_role("tab", name="Postmortem").click()
        page.wait_for_timeout(500)
        screenshot(page, OUT / "incidents_postmortem_oncall.png")
        _open(page, "On-call", "On-call")
        assert "The next 8 weeks" in page.inner_text("body")
        assert page.get_by_text("Edit the rotation").count() == 1
        screenshot(page, OUT / "oncall_oncall.png")
    finally:
        page.context.close()


def test_manager_reads_without_controls(console: str, browser: Any, scene: dict[str, Any]) -> None:
    page = _signed_in(browser, console, scene["boss"])
    try:
        _open(page, "Incidents", "Incidents")
        body = page.inner_text("body")
        assert "Checkout API returns 503" in body and "MTTA and MTTR by severity" in body
        assert page.get_by_text("Declare an incident").count() == 0
        assert page.get_by_role("button", name="Add note").count() == 0
        screenshot(page, OUT / "incidents_manager.png")
        _open(page, "On-call", "On-call")
        assert page.get_by_text("Edit the rotation").count() == 0
        screenshot(page, OUT / "oncall_manager.png")
        _open(page, "Trust KPIs", "Trust KPIs")
        section = page.get_by_text("Incident response in this range")
        section.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(OUT / "trust_kpis_incident_section.png"))
    finally:
        page.context.close()


def test_status_page_signed_out(console: str, browser: Any, scene: dict[str, Any]) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    try:
        response = page.goto(console + "/status")
        assert response is not None and response.status == 200
        assert "frame-ancestors" in (response.headers.get("content-security-policy") or "")
        body = page.inner_text("body")
        assert "ORCA service status" in body and UPDATE in body and "Major outage" in body
        assert NOTE not in body and "Checkout API returns 503" not in body
        assert scene["primary"].username not in body
        screenshot(page, OUT / "status_signed_out.png")
    finally:
        context.close()
