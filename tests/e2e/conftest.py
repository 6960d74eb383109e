"""One running console (real server, seeded database) and one headless Chromium for e2e tests."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from dashboard.actions.base import system_actor
from dashboard.actions.users import add_user
from dashboard.domain.permissions import Role
from tests.conftest import SEED_NOW
from tests.e2e.browser import CHROMIUM, launch

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
COOKIE_KEY = "e2e-tests-" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Login:
    username: str
    password: str


def make_login(engine: Engine, *roles: Role) -> Login:
    """A new user with ``roles`` and a random password (random name: tests never collide)."""
    name = f"e2e{secrets.token_hex(4)}"
    password = "e2e-" + secrets.token_urlsafe(16)
    result = add_user(
        engine, system_actor("test:e2e"), name, password=password, roles=[r.value for r in roles]
    )
    assert result.outcome == "changed", result
    return Login(name, password)


def sign_in(page: Any, base: str, login: Login) -> None:
    """Sign in through the real form and wait for the first dashboard."""
    page.goto(base + "/")
    page.wait_for_selector('input[aria-label="User name"]', timeout=30_000)
    page.fill('input[aria-label="User name"]', login.username)
    page.fill('input[aria-label="Password"]', login.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector('h1:has-text("Service Health")', timeout=30_000)
    # The cookie is written by a small component after the first signed-in run.
    page.wait_for_function("() => document.cookie.includes('orca_session=')", timeout=15_000)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def console(seeded_engine: Engine, db_url: str, redis_url: str) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    port = _free_port()
    env = {
        **os.environ,
        "ORCA_DATABASE_URL": db_url,
        "ORCA_REDIS_URL": redis_url,
        "ORCA_FIXED_NOW": SEED_NOW.isoformat(),
        "ORCA_COOKIE_KEY": COOKIE_KEY,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dashboard.ui.serve",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
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
    """Per module: Playwright's sync API keeps an event loop running until it is closed, which
    would break later asyncio tests in the same process."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()
