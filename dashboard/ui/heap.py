"""Keep Streamlit's collection after every script run cheap: the console's long-lived objects are
frozen out of the cyclic garbage collector's sight once, when the server process starts.

Streamlit runs a full ``gc.collect()`` after each script run (``runner.postScriptGC``). With
pandas, Plotly, SQLAlchemy and every page's modules loaded, that collection walked about
230,000 long-lived objects each time: 134 ms of every Service Health run, holding the GIL
while the run's last messages waited to be sent, and about half of a console's CPU under 50
auto-refreshing viewers. ``gc.freeze()`` moves everything alive at start-up (modules,
classes, Plotly's validators) to a permanent generation the collector skips; the per-run
collection then only looks at what the runs themselves made, so it still frees the sessions'
reference cycles. Frozen objects are still freed by reference counting.
"""

from __future__ import annotations

import gc
import importlib
import logging
import pkgutil

import pandas as pd

log = logging.getLogger(__name__)

#: Modules that serve or start things rather than render a page: not imported for warming.
_SKIP = frozenset({"dashboard.ui.serve"})


def _import_pages() -> int:
    """Import every console UI module (what the pages' first runs would load); how many."""
    import dashboard.ui as ui

    count = 0
    for info in pkgutil.iter_modules(ui.__path__, ui.__name__ + "."):
        if info.name not in _SKIP:
            importlib.import_module(info.name)
            count += 1
    return count


def _warm_charts() -> None:
    """Build each kind of chart once: Plotly creates its validators on a figure's first use."""
    from dashboard.ui import charts

    now = pd.Timestamp("2026-01-01", tz="UTC")
    ts = [now, now + pd.Timedelta(minutes=5)]
    charts.themed(
        charts.bars(pd.DataFrame({"k": ["a", "b"], "n": [1, 2]}), "k", "n", "t"), "light"
    ).to_plotly_json()
    charts.themed(
        charts.small_multiples(
            pd.DataFrame({"ts": ts, "v": [1.0, 2.0], "w": [2.0, 3.0]}),
            [
                charts.facet("a", "v", charts.Limit(1.0, "l")),
                charts.Facet("b", (("v", "v"), ("w", "w")), area=True),
            ],
        ),
        "light",
    ).to_plotly_json()


def freeze_long_lived() -> int:
    """Warm the page modules and Plotly, collect, then freeze what is alive; objects frozen."""
    modules = _import_pages()
    try:
        _warm_charts()
    except Exception:  # warming is an optimisation: a failure must not stop the server
        log.warning("chart warm-up failed; the heap is frozen without it", exc_info=True)
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("froze %d long-lived objects after importing %d console modules", frozen, modules)
    return frozen
