"""Real browser and raw HTTP against the served console: cookie flags, headers, websocket
origin, and a CSV download URL that dies with the session."""

from __future__ import annotations

import base64
import secrets
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import Engine

from dashboard.actions.auth import authenticate
from dashboard.domain.permissions import Role
from dashboard.settings import reset_settings
from dashboard.ui.http_guard import new_claim
from tests.e2e.conftest import make_login, session_cookies, sign_in

pytestmark = pytest.mark.e2e


def _context(browser: Any) -> Any:
    return browser.new_context(viewport={"width": 1280, "height": 900})


def test_the_session_cookie_is_httponly_and_samesite_strict(
    console: str, browser: Any, seeded_engine: Engine
) -> None:
    context = _context(browser)
    page = context.new_page()
    try:
        sign_in(page, console, make_login(seeded_engine, Role.MANAGER))
        [cookie] = session_cookies(context)
        assert cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Strict"
        assert cookie["path"] == "/"
        assert cookie["secure"] is False  # plain http here; Secure is set behind TLS
        assert 11 * 3600 < cookie["expires"] - time.time() <= 12 * 3600
        assert "orca_session" not in page.evaluate("document.cookie")  # no script reads it
    finally:
        context.close()


def test_security_headers_on_pages_and_assets(console: str) -> None:
    for path in ("/", "/_stcore/health"):
        answer = httpx.get(console + path, timeout=10)
        assert answer.status_code == 200, path
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "SAMEORIGIN"


def _upgrade(console: str, origin: str) -> int:
    """The HTTP status of a websocket handshake to Streamlit's stream with ``origin``."""
    url = urlsplit(console)
    hostname, port = str(url.hostname), int(url.port or 80)
    host = f"{hostname}:{port}"
    request = (
        "GET /_stcore/stream HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {base64.b64encode(secrets.token_bytes(16)).decode()}\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: streamlit\r\n"
        f"Origin: {origin}\r\n\r\n"
    )
    with socket.create_connection((hostname, port), timeout=10) as sock:
        sock.sendall(request.encode())
        status_line = sock.recv(4096).split(b"\r\n", 1)[0].decode()
    return int(status_line.split()[1])


def test_a_websocket_from_another_origin_is_refused(console: str) -> None:
    url = urlsplit(console)
    port = int(url.port or 80)
    assert _upgrade(console, f"http://{url.hostname}:{port}") == 101
    # Same host, another port: Streamlit alone accepts it (it compares host names only).
    assert _upgrade(console, f"http://{url.hostname}:{port + 1}") == 403
    assert _upgrade(console, f"http://localhost:{port + 1}") == 403
    assert _upgrade(console, "https://evil.example") == 403


def test_a_download_url_dies_with_the_session(
    console: str, browser: Any, seeded_engine: Engine
) -> None:
    context = _context(browser)
    page = context.new_page()
    try:
        sign_in(page, console, make_login(seeded_engine, Role.MANAGER))
        page.goto(console + "/audit")
        page.get_by_role("button", name="Prepare CSV export").click()
        button = page.get_by_role("button", name="Download CSV")
        button.wait_for(timeout=30_000)
        with page.expect_download(timeout=30_000) as info:
            button.click()
        url = info.value.url
        assert "/media/" in url
        [cookie] = session_cookies(context)
        jar = {cookie["name"]: cookie["value"]}
        assert httpx.get(url, cookies=jar, timeout=10).status_code == 200
        assert httpx.get(url, timeout=10).status_code == 403  # no cookie: no file

        page.goto(console + "/")
        page.get_by_role("button", name="Log out").click()
        page.wait_for_selector('input[aria-label="User name"]', timeout=30_000)
        refused = httpx.get(url, cookies=jar, timeout=10)  # the old cookie replayed
        assert refused.status_code == 403
        assert "Sign in" in refused.text
        # The server also told the browser to drop the cookie.
        for _ in range(50):
            if not session_cookies(context):
                break
            page.wait_for_timeout(100)
        assert not session_cookies(context)
    finally:
        context.close()


def test_a_claim_code_buys_one_cookie_from_the_own_origin_only(
    console: str, seeded_engine: Engine, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCA_REDIS_URL", redis_url)
    reset_settings()
    try:
        login = make_login(seeded_engine, Role.MANAGER)
        token = authenticate(seeded_engine, login.username, login.password)
        code = new_claim(token)
        assert code is not None
        own = {"Origin": console}
        foreign = httpx.post(
            console + "/api/session",
            json={"claim": code},
            headers={"Origin": "http://evil.example"},
        )
        assert foreign.status_code == 403 and "set-cookie" not in foreign.headers
        first = httpx.post(console + "/api/session", json={"claim": code}, headers=own)
        assert first.status_code == 200
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
        again = httpx.post(console + "/api/session", json={"claim": code}, headers=own)
        assert again.status_code == 403  # single use
        assert httpx.post(console + "/api/session", json={"claim": "x" * 30}).status_code == 403
    finally:
        reset_settings()
