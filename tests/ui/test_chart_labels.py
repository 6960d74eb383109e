"""Every chart built from hostile names: no HTML tag Plotly would draw, no live bidi control."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard.ui import charts
from dashboard.ui.markup import chart_label

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
EVIL = '<a href="https://evil.example/">x</a> <b>bold</b> <i>it</i> \u202etxt.exe'
EVIL_2 = "<br><img src=x onerror=alert(1)>\u2066iso\u2069"
TS = pd.date_range(NOW - timedelta(minutes=3), periods=3, freq="min", tz="UTC")


def _per(label_column: str, **values: object) -> pd.DataFrame:
    """Three points for each of two hostile labels in ``label_column``."""
    rows = [{"ts": t, label_column: name, **values} for name in (EVIL, EVIL_2) for t in TS]
    return pd.DataFrame(rows)


SERIES = pd.DataFrame(
    {
        "ts": TS,
        "rps": 1.0,
        "error_rate_pct": 2.0,
        "p50_ms": 1.0,
        "p95_ms": 2.0,
        "p99_ms": 3.0,
        "trust_score": 80.0,
        "cumulative_usd": 5.0,
    }
)
BUILDERS: dict[str, Callable[[], go.Figure]] = {
    "endpoint_errors": lambda: charts.endpoint_errors(
        pd.DataFrame({"method": ["GET", EVIL_2], "route": [EVIL, "/x"], "error_rate_pct": [1, 2]})
    ),
    "small_multiples": lambda: charts.small_multiples(
        _per("instance", cpu_pct=5.0, memory_pct=6.0),
        [
            charts.facet(EVIL + " (%)", "cpu_pct", charts.Limit(80, EVIL)),
            charts.Facet("Mem", (("memory_pct", EVIL_2),)),
        ],
        group="instance",
    ),
    "kpi_trend": lambda: charts.kpi_trend(SERIES, "trust_score", EVIL + " (x)", 75, EVIL),
    "trust_components": lambda: charts.trust_components(
        SERIES.assign(reliability=0.5), [("reliability", EVIL)]
    ),
    "sync_lag": lambda: charts.sync_lag(_per("source", lag_max_s=3.0), 60, 300),
    "bars": lambda: charts.bars(
        pd.DataFrame({"value": [EVIL, EVIL_2], "agents": [1, 2]}), "value", "agents", "Agents"
    ),
    "discovery": lambda: charts.discovery(_per("source", agents=2)),
    "agent_trust": lambda: charts.agent_trust(pd.DataFrame({"computed_at": TS, "score": 50.0})),
    # Alerts page: values only (no text from data), still checked for live HTML.
    "sparkline": lambda: charts.sparkline([("2026-12-03T06:00:00+00:00", 81.0)], 80.0),
    "capacity_trend": lambda: charts.capacity_trend(
        SERIES.assign(value=1.0), EVIL + " (x)", "%", 80.0
    ),
}


def _strings(value: object) -> Iterator[str]:
    """Every string anywhere in a figure's JSON: titles, names, ticks, data, annotations."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif hasattr(value, "tolist"):
        yield from _strings(value.tolist())


def test_every_chart_builder_is_checked() -> None:
    """A new chart builder must be added to BUILDERS, so it is tried with hostile names."""
    public = {
        name
        for name, fn in inspect.getmembers(charts, inspect.isfunction)
        if fn.__module__ == charts.__name__
        and not name.startswith("_")
        and not name.endswith("_builder")
        and name != "themed"  # dresses a built figure in a template: adds no text from data
        and name != "facet"  # describes a panel of small_multiples (tried there), no figure
    }
    assert public == set(BUILDERS)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_chart_text_from_data_has_no_live_html_or_bidi(name: str) -> None:
    texts = list(_strings(BUILDERS[name]().to_plotly_json()))
    for text in texts:
        assert "<" not in text and ">" not in text, (name, text)
        assert "\u202e" not in text and "\u2066" not in text, (name, text)


@pytest.mark.parametrize(
    "name",
    [
        "endpoint_errors",
        "small_multiples",
        "kpi_trend",
        "trust_components",
        "sync_lag",
        "bars",
        "capacity_trend",
    ],
)
def test_hostile_labels_are_kept_visible_as_escaped_text(name: str) -> None:
    joined = " ".join(_strings(BUILDERS[name]().to_plotly_json()))
    assert "&lt;a href=&quot;https://evil.example/&quot;&gt;" in joined or (
        "&lt;br&gt;&lt;img" in joined
    )
    assert "[U+202E]" in joined or "[U+2066]" in joined


def test_discovery_legend_names_are_escaped() -> None:
    names = [trace.name for trace in charts.discovery(_per("source", agents=2)).data]
    assert sorted(names) == sorted([chart_label(EVIL), chart_label(EVIL_2)])


def test_chart_label_escapes_and_marks() -> None:
    assert (
        chart_label('<b>x</b> "q" & \u202e') == "&lt;b&gt;x&lt;/b&gt; &quot;q&quot; &amp; [U+202E]"
    )
