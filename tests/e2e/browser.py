"""Drive Debian's Chromium with Playwright: open a console page, wait for it, screenshot it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def wait_until_loaded(page: Any, timeout_ms: int = 30_000) -> None:
    """Streamlit is done when its app view has content and the running indicator is gone."""
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=timeout_ms)
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')""",
        timeout=timeout_ms,
    )
    page.wait_for_timeout(8000)  # plotly draws after the script run ends


def screenshot(page: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
