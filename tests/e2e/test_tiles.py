"""Tiles fit at 1280 px and on a 390 px phone (screenshots); a registry row opens on a click.

A metric tile cuts what does not fit with an ellipsis ("Heal…", "anthro…"); the test reads
each tile's text boxes in a real Chromium and fails when one's content is wider than its box.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from dashboard.domain.permissions import Role
from tests.e2e.browser import screenshot, wait_until_loaded
from tests.e2e.conftest import SHOTS, make_login, sign_in

pytestmark = pytest.mark.e2e

WIDTHS = (1280, 390)
# (page, minimum number of tiles it shows)
PAGES = {
    "service_health": ("/", 6),
    "trust_kpis": ("/trust_kpis", 5),
    "agent_registry": ("/agent_registry", 5),
    "agent_detail": (None, 5),
    "review_queue": ("/review_queue", 0),
    "audit": ("/audit", 0),
    "drill": ("/drill", 0),
}
# Every text box inside a tile's label and value whose content is wider than the box.
_CUT = """() => {
  const tiles = [...document.querySelectorAll('[data-testid="stMetric"]')];
  const cut = [];
  for (const tile of tiles) {
    const parts = tile.querySelectorAll(
      '[data-testid="stMetricValue"], [data-testid="stMetricLabel"], ' +
      '[data-testid="stMetricValue"] *, [data-testid="stMetricLabel"] *');
    for (const el of parts) {
      if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
        cut.push({text: el.textContent, scroll: el.scrollWidth, client: el.clientWidth});
      }
    }
  }
  return {tiles: tiles.length, cut: cut};
}"""


@pytest.fixture(scope="module")
def context(console: str, browser: Any, seeded_engine: Engine) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": WIDTHS[0], "height": 1600})
    page = ctx.new_page()
    sign_in(page, console, make_login(seeded_engine, *Role))
    page.close()
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def long_agent(seeded_engine: Engine) -> int:
    """An agent whose tile values are the longest there are (quarantined, anthropic ...)."""
    with seeded_engine.connect() as conn:
        found = conn.execute(
            text(
                """SELECT id FROM agents ORDER BY (status = 'quarantined') DESC,
                       (vendor = 'anthropic') DESC, (compliance_tier = 'standard') DESC,
                       (type = 'pipeline') DESC, id LIMIT 1"""
            )
        ).scalar_one()
    return int(found)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(PAGES))
def test_every_tile_fits(
    console: str, context: Any, long_agent: int, name: str, width: int
) -> None:
    path, min_tiles = PAGES[name]
    page = context.new_page()
    try:
        page.set_viewport_size({"width": width, "height": 1600})
        page.goto(console + (path or f"/agent_registry?agent={long_agent}"))
        wait_until_loaded(page, min_charts=0)
        screenshot(page, SHOTS / f"{name}-{width}.png")
        found = page.evaluate(_CUT)
        assert found["tiles"] >= min_tiles, found
        assert found["cut"] == [], (name, width, found["cut"])
        # Nothing of the page runs off a phone's screen sideways either.
        overflow = page.evaluate(
            "() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth"
            " - document.querySelector('[data-testid=\"stMain\"]').clientWidth"
        )
        assert overflow <= 1, (name, width, overflow)
    finally:
        page.close()


def test_clicking_a_registry_row_opens_that_agent(console: str, context: Any) -> None:
    """The real click: the row's selection box in Streamlit's canvas table, then the detail."""
    page = context.new_page()
    try:
        page.set_viewport_size({"width": WIDTHS[0], "height": 1600})
        page.goto(console + "/agent_registry")
        wait_until_loaded(page)
        grid = page.locator('[data-testid="stDataFrame"]').last
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        assert box is not None
        # Row 1 sits under the 35 px header; its selection box is the leftmost column.
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)
        page.wait_for_selector('h1:has-text("Agent detail")', timeout=30_000)
        assert "agent=" in page.url
    finally:
        page.close()
