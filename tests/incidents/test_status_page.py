"""The public status page (GET /status): no sign-in, security headers, components and open
incidents with their public updates only; hostile titles, notes, names never leak."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.testclient import TestClient

from dashboard.actions import incidents
from dashboard.actions.base import cli_actor
from dashboard.settings import reset_settings
from dashboard.ui import status_page
from dashboard.ui.http_guard import MIDDLEWARE

AGENT = "Evil<script>alert('agent')</script>Bot"
TITLE = f"Trust drop on {AGENT}"
NOTE = "SECRET-NOTE db password is hunter2 <img src=x onerror=alert(1)>"
UPDATE = "Checkout is slow <b>for some</b> & we're on it"


@pytest.fixture()
def client(clean: Engine, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("ORCA_DATABASE_URL", clean.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ORCA_REDIS_URL", redis_url)
    reset_settings()
    status_page._engine.cache_clear()
    status_page.reset_for_tests()
    app = Starlette(routes=status_page.STATUS_ROUTES, middleware=MIDDLEWARE)
    with TestClient(app) as c:
        yield c
    status_page._engine.cache_clear()
    status_page.reset_for_tests()
    reset_settings()


def _agent(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                """INSERT INTO agents (external_id, discovery_source, name, type, vendor, owner,
                       discovered_at, status)
                   VALUES (md5(random()::text), 'mcp', :n, 'chatbot', 'openai', 'o@x.io',
                       now(), 'active')"""
            ),
            {"n": name},
        )


def test_quiet_page_without_sign_in(client: TestClient) -> None:
    page = client.get("/status")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "No open incidents" in page.text
    assert "Components" in page.text


def test_open_incident_shows_only_public_updates(clean: Engine, client: TestClient) -> None:
    _agent(clean, AGENT)
    admin = cli_actor()
    assert incidents.declare(clean, admin, title=TITLE, severity="P1", request_key="a").ok
    with clean.connect() as conn:
        iid = int(conn.execute(text("SELECT max(id) FROM incidents")).scalar_one())
    assert incidents.assign(clean, admin, iid, commander="carol.oncall", comms_lead="dave.comms").ok
    assert incidents.add_note(clean, admin, iid, NOTE, request_key="n1").ok
    assert incidents.add_note(clean, admin, iid, f"suspect {AGENT}", request_key="n2").ok
    assert incidents.post_status_update(clean, admin, iid, UPDATE, request_key="u1").ok
    named = incidents.post_status_update(
        clean, admin, iid, f"we quarantined {AGENT.lower()}", request_key="u2"
    )
    assert named.outcome == "invalid" and "must not name agents" in named.message
    status_page.reset_for_tests()
    page = client.get("/status").text
    assert "1 open incident" in page and "Major outage" in page and f"#{iid}" in page
    assert "Checkout is slow &lt;b&gt;for some&lt;/b&gt; &amp; we&#x27;re on it" in page
    for secret in (
        "SECRET-NOTE",
        "hunter2",
        "<img",
        "<script",
        "Evil",
        "Trust drop",
        "carol.oncall",
        "dave.comms",
        "quarantined",
        "suspect",
        "system:",
    ):
        assert secret not in page, secret
    assert "<b>" not in page


def test_page_is_rendered_once_per_ttl(clean: Engine, client: TestClient) -> None:
    first = client.get("/status").text
    assert incidents.declare(clean, cli_actor(), title="x", severity="P3", request_key="b").ok
    assert client.get("/status").text == first  # cached for RENDER_TTL_S
    status_page.reset_for_tests()
    assert "Minor issue" in client.get("/status").text
