"""One running console (real server, seeded database) and one headless Chromium for e2e tests."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pluggy
import pytest
from sqlalchemy import Engine

from dashboard.actions.base import system_actor
from dashboard.actions.users import add_user
from dashboard.domain.permissions import Role
from dashboard.ui.serve import local_command
from tests.conftest import SEED_NOW
from tests.e2e.browser import CHROMIUM, launch
from tests.harness import LoggedProcess, free_port, run_log_path

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
    # The role's menu renders after the title: tests read it right after signing in.
    page.wait_for_selector('[data-testid="stSidebar"] a', timeout=30_000)
    # The server sets the (HttpOnly) cookie when the page trades its claim code after the first
    # signed-in run: scripts cannot see it, so ask the browser context.
    wait_for_session_cookie(page)


def session_cookies(context: Any) -> list[dict[str, Any]]:
    return [c for c in context.cookies() if c["name"] == "orca_session"]


def wait_for_session_cookie(page: Any, *, timeout_s: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = session_cookies(page.context)
        if found:
            return found[0]
        page.wait_for_timeout(100)
    raise AssertionError("the console never set its session cookie")


@dataclass(frozen=True)
class RunningConsole:
    """The console server of this run: its base URL and its (logged) process."""

    url: str
    process: LoggedProcess


def start_console(
    db_url: str, redis_url: str, *, name: str = "console", base_path: str = "", **extra_env: str
) -> RunningConsole:
    """A console as a real Streamlit server on a free port, healthy; stop its ``process``.

    ``base_path`` ("/orca"): served under it (server.baseUrlPath), as behind a reverse proxy;
    the returned ``url`` includes it.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian chromium is missing: `make test` installs it (apt-get install chromium)"
        )
    port = free_port()
    env = {
        **os.environ,
        "ORCA_DATABASE_URL": db_url,
        "ORCA_REDIS_URL": redis_url,
        "ORCA_FIXED_NOW": SEED_NOW.isoformat(),
        "ORCA_COOKIE_KEY": COOKIE_KEY,
        **extra_env,
    }
    args = local_command(port)
    if base_path:
        args += ["--server.baseUrlPath", base_path.strip("/")]
    running = RunningConsole(
        f"http://127.0.0.1:{port}{base_path.rstrip('/')}",
        LoggedProcess(f"the {name}", args, run_log_path(name), env=env, cwd=ROOT).start(),
    )

    def healthy() -> bool:
        try:
            return httpx.get(running.url + "/_stcore/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        running.process.wait_until(healthy, timeout_s=90)
    except AssertionError as exc:
        pytest.fail(str(exc), pytrace=False)
    return running


@pytest.fixture(scope="session")
def console_server(seeded_engine: Engine, db_url: str, redis_url: str) -> Iterator[RunningConsole]:
    """The console as a real server on a free port; its log is artifacts/logs/console-*.log."""
    running = start_console(db_url, redis_url)
    yield running
    code = running.process.stop(timeout_s=10)
    print(f"console stopped (exit code {code}); its log: {running.process.log_path}")


@pytest.fixture(scope="session")
def console(console_server: RunningConsole) -> str:
    """Base URL of the running console."""
    return console_server.url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """A failing browser test also shows the console's state and the tail of its log."""
    outcome = yield
    report = outcome.get_result()
    running = getattr(item, "funcargs", {}).get("console_server")
    if report.failed and isinstance(running, RunningConsole):
        proc = running.process.proc
        code = proc.poll() if proc is not None else None
        state = "still running" if code is None else f"exited with code {code}"
        report.sections.append(("console", running.process.describe(state)))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Per module: Playwright's sync API keeps an event loop running until it is closed, which
    would break later asyncio tests in the same process."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()
