"""Chart builders, CSV neutralisation and URL parameters: pure functions, no Streamlit runtime."""

from __future__ import annotations

import csv
import io
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard.domain.csv_export import neutralise_cell
from dashboard.domain.timebuckets import MAX_POINTS
from dashboard.ui import charts, health_view, trust_view
from dashboard.ui.csv import to_safe_csv
from dashboard.ui.params import bucket_label, parse_range, parse_refresh

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _series(n: int) -> pd.DataFrame:
    ts = pd.date_range(NOW - timedelta(minutes=n), periods=n, freq="min", tz="UTC")
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "ts": ts,
            "rps": rng.random(n),
            "error_rate_pct": rng.random(n) * 3,
            "p50_ms": 10.0,
            "p95_ms": 80.0,
            "p99_ms": 200.0,
        }
    )


def test_service_health_traffic_panels_lines_and_thresholds() -> None:
    fig = health_view._traffic(_series(60))
    assert [(t.name, t.yaxis) for t in fig.data] == [
        ("Request rate", "y"),
        ("Error rate", "y2"),
        ("latency p50", "y3"),
        ("latency p95", "y3"),
        ("latency p99", "y3"),
    ]
    # Only the latency panel's lines are in the legend: the others are named by their titles.
    assert [t.name for t in fig.data if t.showlegend] == [
        "latency p50",
        "latency p95",
        "latency p99",
    ]
    titles = [a.text for a in fig.layout.annotations][:3]
    assert titles == [
        "Request rate (req/s)",
        "Error rate (% of requests, 5xx)",
        "Latency p50 / p95 / p99 (ms)",
    ]
    assert sorted((s.y0, s.yref) for s in fig.layout.shapes) == [(1, "y2"), (5, "y2"), (500, "y3")]


def _limit_labels(fig: go.Figure, texts: set[str]) -> dict[str, tuple[float, str, str]]:
    return {a.text: (a.x, a.xanchor, a.yref) for a in fig.layout.annotations if a.text in texts}


def test_two_limits_of_one_chart_label_opposite_ends_of_their_lines() -> None:
    # A spike far above both limits draws the two lines a few pixels apart: labels put at the
    # same end overlapped into one unreadable smudge.
    spike = _series(60).assign(error_rate_pct=60.0)
    errors = _limit_labels(health_view._traffic(spike), {"1 % healthy limit", "5 % P1"})
    assert errors == {
        "1 % healthy limit": (0, "left", "y2"),
        "5 % P1": (1, "right", "y2"),
    }
    lag = pd.DataFrame(
        {
            "ts": pd.date_range(NOW - timedelta(hours=1), periods=12, freq="5min", tz="UTC"),
            "source": "crm",
            "lag_max_s": 50_000.0,
        }
    )
    labels = _limit_labels(charts.sync_lag(lag, 60, 300), {"60 s healthy", "300 s P2"})
    assert {text: x_anchor for text, (_, x_anchor, _) in labels.items()} == {
        "60 s healthy": "left",
        "300 s P2": "right",
    }
    # A third or fourth limit takes the bottom corners; a fifth starts over.
    assert [charts._limit_label_position(n) for n in range(5)] == [
        "top left",
        "top right",
        "bottom left",
        "bottom right",
        "top left",
    ]


def test_trust_trends_merge_the_running_risk_avoided_total_onto_the_kpi_buckets() -> None:
    series = _series(4).assign(trust_score=[80.0, 81.0, 82.0, 83.0])
    ts = series["ts"]
    ra = pd.DataFrame({"ts": [ts[1], ts[3]], "cumulative_usd": [10.0, 25.0]})
    merged = trust_view._merged(series, ra)
    assert list(merged["cumulative_usd"]) == [0.0, 10.0, 10.0, 25.0]
    assert list(merged["trust_score"]) == [80.0, 81.0, 82.0, 83.0]
    # A violation bucket without a KPI snapshot adds a row; the KPI line skips it.
    extra = pd.DataFrame({"ts": [ts[0] - timedelta(minutes=5)], "cumulative_usd": [3.0]})
    merged = trust_view._merged(series, pd.concat([extra, ra]))
    assert len(merged) == 5 and merged["trust_score"].isna().sum() == 1
    kpis = {"sync_freshness_pct": 1.0, "drift_rate_pct": 1.0, "compliance_sla_pct": 1.0}
    fig = trust_view._kpi_trends(
        merged.assign(
            **kpis, reliability=1.0, policy_adherence=1, sync_freshness=1, risk_exposure=1
        )
    )
    trust, risk = fig.data[0], fig.data[1]
    assert len(trust.x) == 4 and len(risk.x) == 5 and risk.fill == "tozeroy"
    assert trust_view._merged(series, None)["cumulative_usd"].isna().all()


def test_traces_are_capped_at_the_point_budget() -> None:
    one = [charts.facet("Rate", "rps")]
    assert len(charts.small_multiples(_series(10_000), one).data[0].x) <= MAX_POINTS == 800
    assert len(charts.small_multiples(_series(100), one).data[0].x) == 100


def test_no_fixed_background_so_both_themes_read() -> None:
    fig = charts.kpi_trend(
        _series(5).assign(trust_score=80.0), "trust_score", "Trust Score (0–100)", 75
    )
    assert fig.layout.paper_bgcolor is None and fig.layout.plot_bgcolor is None
    # (components.chart dresses it in the console's template for the viewer's theme)


@pytest.mark.parametrize("theme", ["light", "dark", None, "solarized"])
def test_themed_figures_carry_the_console_template(theme: str | None) -> None:
    fig = charts.themed(charts.small_multiples(_series(5), [charts.facet("Rate", "rps")]), theme)
    layout = fig.layout.template.layout
    assert layout.paper_bgcolor == layout.plot_bgcolor == "rgba(0,0,0,0)"
    expected = "#fafafa" if theme == "dark" else "#31333f"  # unknown themes read as light
    assert layout.font.color == expected
    # The figure's own layout still fixes no background: the template's transparent one shows.
    assert fig.layout.paper_bgcolor is None
    # plotly's default template (about 8 KB of JSON per figure) is not sent along.
    assert "#E5ECF6" not in fig.to_json()


def test_small_multiples_one_line_per_instance_in_the_same_colour_on_every_panel() -> None:
    df = pd.DataFrame(
        {
            "ts": [NOW, NOW, NOW],
            "instance": ["b", "a", "c"],
            "cpu_pct": [1.0, 2.0, 3.0],
            "memory_pct": [4.0, 5.0, 6.0],
            "disk_pct": [7.0, 8.0, 9.0],
        }
    )
    facets = [
        charts.facet("CPU (%)", "cpu_pct", charts.Limit(80, "80 % threshold"), y_range=(0, 100)),
        charts.facet("Memory (%)", "memory_pct", charts.Limit(85, "85 % threshold")),
        charts.facet("Disk (%)", "disk_pct"),
    ]
    fig = charts.small_multiples(df, facets, group="instance")
    # Three panels of three instances, in a 2 x 2 grid over one shared time axis.
    assert [(t.name, t.xaxis) for t in fig.data] == [
        (name, axis) for axis in ("x", "x2", "x3") for name in ("a", "b", "c")
    ]
    assert [t.y[0] for t in fig.data if t.name == "b"] == [1.0, 4.0, 7.0]
    colours = {t.name: {u.line.color for u in fig.data if u.name == t.name} for t in fig.data}
    assert all(len(c) == 1 for c in colours.values()) and len(set().union(*colours.values())) == 3
    # One legend entry per instance, not one per panel.
    assert [t.name for t in fig.data if t.showlegend] == ["a", "b", "c"]
    texts = [a.text for a in fig.layout.annotations]
    assert texts[:3] == ["CPU (%)", "Memory (%)", "Disk (%)"]
    assert "80 % threshold" in texts and "85 % threshold" in texts
    # Each limit line on its own panel; the y range only where the facet fixes one.
    assert sorted((s.y0, s.yref) for s in fig.layout.shapes) == [(80, "y"), (85, "y2")]
    assert list(fig.layout.yaxis.range) == [0, 100] and fig.layout.yaxis2.range is None
    # The top row follows the bottom row's time axis and leaves the dates to it.
    assert fig.layout.xaxis.matches == "x3" and fig.layout.xaxis.showticklabels is False


def test_small_multiples_without_a_group_draw_one_unlabelled_line_a_panel() -> None:
    fig = charts.small_multiples(
        _series(10).assign(b=1.0), [charts.facet("Rate", "rps"), charts.facet("B", "b")]
    )
    assert len(fig.data) == 2 and not any(t.showlegend for t in fig.data)
    assert fig.layout.showlegend is False


def test_long_series_have_no_markers() -> None:
    cols = [("reliability", "reliability")]
    short = charts.trust_components(_series(10).assign(reliability=0.5), cols)
    long = charts.trust_components(_series(300).assign(reliability=0.5), cols)
    assert short.data[0].mode == "lines+markers" and long.data[0].mode == "lines"


@pytest.mark.parametrize("cell", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx"])
def test_csv_neutralises_formula_cells(cell: str) -> None:
    assert neutralise_cell(cell) == "'" + cell
    out = to_safe_csv(pd.DataFrame({"name": [cell], "n": [1]})).decode()
    assert f"'{cell}" in out.replace('"', "")
    assert list(csv.reader(io.StringIO(out))) == [["name", "n"], [f"'{cell}", "1"]]


def test_csv_keeps_ordinary_cells_and_numbers() -> None:
    out = to_safe_csv(pd.DataFrame({"name": ["invoice-bot"], "n": [-5]})).decode().splitlines()
    # Every cell is quoted now (so CR/LF inside a cell cannot split a row); the values are kept.
    assert out == ['"name","n"', '"invoice-bot","-5"']
    assert list(csv.reader(out)) == [["name", "n"], ["invoice-bot", "-5"]]


def test_csv_of_missing_values_and_times() -> None:
    df = pd.DataFrame(
        {"at": [pd.Timestamp(NOW), pd.NaT], "x": [1.5, float("nan")], "s": [None, "a"]}
    )
    rows = list(csv.reader(io.StringIO(to_safe_csv(df).decode())))
    assert rows == [["at", "x", "s"], [NOW.isoformat(), "1.5", ""], ["", "", "a"]]


def test_range_parsing() -> None:
    assert parse_range({"range": "7d"}, NOW).bucket == timedelta(minutes=15)
    custom = parse_range({"range": "custom", "start": "2026-11-01", "end": "2026-11-10"}, NOW)
    assert custom.time_range.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert custom.time_range.end == datetime(2026, 11, 11, tzinfo=UTC)
    bad = parse_range({"range": "custom", "start": "yesterday"}, NOW)
    assert bad.key == "24h" and bad.error
    assert parse_range({"range": "<script>"}, NOW).error
    # A date past the calendar's end overflows once a day is added: answered, never raised.
    far = parse_range({"range": "custom", "start": "2026-11-01", "end": "9999-12-31"}, NOW)
    assert far.key == "24h" and far.error
    assert parse_refresh({"refresh": "1 s"}) == "off"
    assert parse_refresh({"refresh": "30 s"}) == "30 s"
    assert bucket_label(timedelta(hours=6)) == "6 h"


def test_figures_are_built_once_per_chart_and_data(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.ui import components

    monkeypatch.setattr(components, "_figures", OrderedDict())
    built: list[int] = []

    def build(df: pd.DataFrame) -> go.Figure:
        built.append(len(df))
        return go.Figure(go.Scatter(x=df["x"], y=df["y"]))

    def frame(y: float) -> pd.DataFrame:  # a new object each time, as a cache read gives
        return pd.DataFrame({"x": [1, 2, 3], "y": [1.0, 2.0, y]})

    first = components.memo_figure("page.chart", frame(3.0), build)
    assert components.memo_figure("page.chart", frame(3.0), build) is first
    assert built == [3]
    # Other data, or the same data under another chart's key, is another figure.
    assert components.memo_figure("page.chart", frame(4.0), build) is not first
    assert components.memo_figure("page.other", frame(3.0), build) is not first
    assert built == [3, 3, 3]
    # A frame pandas cannot hash is built every time; the memo stays bounded.
    odd = pd.DataFrame({"x": [[1], [2]], "y": [1.0, 2.0]})
    components.memo_figure("page.odd", odd, lambda df: go.Figure())
    monkeypatch.setattr(components, "FIGURE_MEMO_SIZE", 2)
    for n in range(5):
        components.memo_figure("page.many", frame(float(10 + n)), build)
    assert len(components._figures) == 2


def test_csv_downloads_are_written_once_per_table_and_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dashboard.ui import components

    monkeypatch.setattr(components, "_csvs", OrderedDict())
    df = pd.DataFrame({"name": ["=1+1", "ok"], "n": [1, 2]})
    first = components.memo_csv("page.table", df)
    assert first == to_safe_csv(df)
    assert components.memo_csv("page.table", df.copy()) is first
    changed = df.assign(n=[1, 3])
    assert components.memo_csv("page.table", changed) == to_safe_csv(changed)
    # Files above the cap are not kept.
    monkeypatch.setattr(components, "CSV_MEMO_MAX_BYTES", 10)
    big = pd.DataFrame({"name": ["x" * 50]})
    assert components.memo_csv("page.big", big) == to_safe_csv(big)
    assert all(k[0] != "page.big" for k in components._csvs)


def _one_chart_page() -> None:
    from datetime import UTC, datetime, timedelta

    import pandas as pd

    from dashboard.ui import charts, components
    from dashboard.ui.loaders import Panel

    start = datetime(2026, 1, 1, tzinfo=UTC)
    df = pd.DataFrame(
        {"ts": [start + timedelta(minutes=i) for i in range(3)], "rps": [1.0, 2.0, 3.0]}
    )
    components.chart(
        Panel(df, "ok"),
        lambda d: charts.small_multiples(d, [charts.facet("Rate", "rps")]),
        "t.rate",
    )


def test_charts_go_out_in_the_console_template_not_streamlits_theme() -> None:
    import json

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_one_chart_page).run()
    assert not at.exception, at.exception
    [chart] = at.get("plotly_chart")
    # theme=None: the browser does not re-theme the figure on every load (with Streamlit's
    # theme a warm Service Health navigation took about 200 ms longer).
    assert chart.proto.theme == ""
    spec = json.loads(chart.proto.spec)
    assert spec["layout"]["template"]["layout"]["paper_bgcolor"] == "rgba(0,0,0,0)"
    assert spec["layout"]["template"]["layout"]["font"]["color"] == "#31333f"
