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


# True once the script run is over and every Plotly chart on the page has drawn (at least
# ``min`` of them), on three polls in a row: plotly draws after the run ends, lazily loaded.
_SETTLED = """(min) => {
  const running = document.querySelector('[data-testid="stStatusWidget"]');
  const skeleton = document.querySelector('[data-testid="stMain"] [data-testid="stSkeleton"]');
  const boxes = document.querySelectorAll('[data-testid="stPlotlyChart"]').length;
  const drawn = [...document.querySelectorAll('.js-plotly-plot')]
    .filter((p) => p.querySelector('.main-svg')).length;
  const ok = !running && !skeleton && drawn >= min && drawn >= boxes;
  if (!ok) { window.__orcaSettled = 0; window.__orcaSettledAt = null; return false; }
  if (!window.__orcaSettled) window.__orcaSettledAt = performance.now();
  window.__orcaSettled = (window.__orcaSettled || 0) + 1;
  return window.__orcaSettled >= 3;
}"""


def wait_until_loaded(
    page: Any, *, min_charts: int = 0, timeout_ms: int = 60_000, polling_ms: int = 200
) -> float:
    """Streamlit is done when its app view has a title, nothing runs, and the charts are drawn.

    Returns the page clock (``performance.now()``, ms since the document's navigation) at the
    first of the three settled polls: the moment the page was settled, without the two polls
    that only confirm it, so the bench does not time its own polling.
    """
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=timeout_ms)
    page.wait_for_function(_SETTLED, arg=min_charts, polling=polling_ms, timeout=timeout_ms)
    return float(page.evaluate("() => window.__orcaSettledAt"))


def health_probes(page: Any) -> list[str]:
    """The paths at which this page's Streamlit front end probed the server's health."""
    return list(
        page.evaluate(
            """() => performance.getEntriesByType('resource')
                .map((e) => new URL(e.name).pathname)
                .filter((p) => p.endsWith('/_stcore/health'))"""
        )
    )


def screenshot(page: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
