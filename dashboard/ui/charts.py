"""Chart builders: DataFrame in, Plotly figure out. Pure functions, titled with units.

No colours of backgrounds or fonts are fixed in the builders: ``themed`` dresses a figure in
the console's light or dark template (``TEMPLATES``) as it is shown, with transparent
backgrounds; threshold lines use mid-tone colours that read on both. The console sends its
figures with Streamlit's ``theme=None`` and these small templates because Streamlit's own
chart theme is applied again in the browser to every chart on every load: with it, a warm
Service Health navigation (eight charts) took about 200 ms (11 %) longer. Every label,
tick, legend entry and hover text that comes from data (routes, instances, sources, names)
goes through ``_label`` / ``_labels`` (``markup.chart_label``): Plotly renders HTML tags in text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.domain.timebuckets import MAX_POINTS
from dashboard.ui.markup import chart_label

WARN = "#d29922"
CRIT = "#e5534b"
TARGET = "#2da44e"

_FONT = '"Source Sans", "Source Sans Pro", sans-serif'
_CATEGORICAL = (
    "#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d",
    "#7defa1", "#ff8700", "#ffd16a", "#6d3fc0", "#d5dae5",
)  # fmt: skip


def _template(text: str, muted: str, grid: str, hover_bg: str) -> go.layout.Template:
    axis = {
        "gridcolor": grid,
        "linecolor": grid,
        "zeroline": False,
        "tickfont": {"color": muted, "size": 12},
        "title": {"font": {"color": muted, "size": 13}},
    }
    return go.layout.Template(
        layout={
            "font": {"family": _FONT, "color": text, "size": 13},
            "title": {"font": {"size": 16, "color": text}},
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "colorway": list(_CATEGORICAL),
            "xaxis": axis,
            "yaxis": axis,
            "legend": {"font": {"color": muted, "size": 12}},
            "hoverlabel": {"bgcolor": hover_bg, "font": {"family": _FONT, "color": text}},
        }
    )


#: The console's chart templates by Streamlit theme type (st.context.theme.type).
TEMPLATES: dict[str, go.layout.Template] = {
    "light": _template("#31333f", "#6b6f80", "rgba(128,132,149,0.22)", "#ffffff"),
    "dark": _template("#fafafa", "#a3a8b8", "rgba(163,168,184,0.22)", "#262730"),
}


def themed(fig: go.Figure, theme: str | None) -> go.Figure:
    """``fig`` in the console's template for ``theme`` ("light" or "dark"; light otherwise)."""
    fig.update_layout(template=TEMPLATES.get(theme or "light", TEMPLATES["light"]))
    return fig


# Fixed margins, wide enough for the tick labels and the axis title (a y tick of up to about
# six characters, a two-line date tick). Not Plotly's automargin: it measures and draws every
# chart twice in the browser, which cost about 100 ms a page of eight charts.
_MARGIN = {"l": 64, "r": 12, "t": 48, "b": 44}


def _base(title: str, y_title: str, *, height: int = 300) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title={"text": _label(title), "x": 0.0, "xanchor": "left"},
        height=height,
        margin=_MARGIN,
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "xanchor": "left", "x": 0},
        hovermode="x unified",
        yaxis_title=_label(y_title),
    )
    return fig


# Where the n-th limit line of one chart or panel labels itself. Two limits (a healthy level and
# an alert level) lie close together whenever the series spikes far above both, so their labels
# take opposite ends of the line instead of stacking on top of each other at the left.
_LIMIT_LABEL_AT = ("top left", "top right", "bottom left", "bottom right")


def _limit_label_position(n: int) -> str:
    """Where the ``n``-th (0-based) limit line of a chart or panel puts its label."""
    return _LIMIT_LABEL_AT[n % len(_LIMIT_LABEL_AT)]


def _threshold(
    fig: go.Figure, y: float, label: str, color: str, n: int = 0, **subplot: int
) -> None:
    """The ``n``-th dashed limit line of a chart, or of one panel (``row=``, ``col=``)."""
    fig.add_hline(
        y=y,
        line_dash="dash",
        line_color=color,
        line_width=1.5,
        annotation_text=_label(label),
        annotation_position=_limit_label_position(n),
        annotation_font_color=color,
        **subplot,
    )


def _label(value: object) -> str:
    return chart_label(value)


def _labels(values: pd.Series) -> list[str]:
    return [chart_label(v) for v in values]


#: Series longer than this are drawn as plain lines (trust components, an agent's trust).
MARKERS_UP_TO = 60


def _times(ts: pd.Series) -> object:
    """Bucket times as epoch milliseconds (UTC) for a date axis: about a third of the JSON of
    ISO strings (numbers travel base64-packed) and nothing for Plotly to parse in the browser,
    where reading 288-point date strings for every trace of a page took 10-15 ms."""
    ms = pd.to_datetime(ts, utc=True).dt.as_unit("ms").astype("int64")
    return ms.to_numpy().astype("float64")


def _cap(df: pd.DataFrame) -> pd.DataFrame:
    """Data is bucketed in SQL; this is a last guard so a trace never exceeds MAX_POINTS."""
    if len(df) <= MAX_POINTS:
        return df
    step = -(-len(df) // MAX_POINTS)
    return df.iloc[::step]


def endpoint_errors(df: pd.DataFrame, top: int = 10, *, height: int = 340) -> go.Figure:
    d = df.dropna(subset=["error_rate_pct"]).head(top).iloc[::-1]
    fig = _base(f"Error rate by endpoint, worst {min(top, len(d))} (%)", "", height=height)
    fig.add_bar(
        y=_labels(d["method"].astype(str) + " " + d["route"].astype(str)),
        x=d["error_rate_pct"],
        orientation="h",
        name="error rate %",
    )
    # Room for the longest "METHOD /route" label (about 7 px a character at the tick size).
    longest = max((len(str(label)) for label in fig.data[0].y), default=0)
    fig.update_layout(
        xaxis_title="% of requests",
        hovermode="closest",
        margin={**_MARGIN, "l": min(320, 16 + 7 * longest)},
    )
    return fig


@dataclass(frozen=True)
class Limit:
    """A dashed horizontal line on a panel: a threshold or a target, labelled."""

    y: float
    label: str
    color: str = WARN


@dataclass(frozen=True)
class Facet:
    """One panel of a small-multiples figure: its lines (column, legend name), limit lines,
    fixed y range and whether its single line is filled to zero (a cumulative figure)."""

    title: str
    lines: tuple[tuple[str, str], ...]
    limits: tuple[Limit, ...] = ()
    y_range: tuple[float, float] | None = None
    area: bool = False


def facet(
    title: str,
    column: str,
    *limits: Limit,
    y_range: tuple[float, float] | None = None,
    area: bool = False,
) -> Facet:
    """A panel of one line, named after the panel (its title up to the unit in brackets)."""
    return Facet(title, ((column, title.split(" (")[0]),), limits, y_range, area)


# One Plotly figure for a set of related panels instead of one figure each: in the browser a
# figure costs about 45 ms of main-thread time on a page of them (its own SVG layers, modebar,
# drag layers and measurements, Streamlit's frame around it), and Streamlit plots each
# figure twice as it mounts; a panel inside a figure costs a fraction of that. The panels
# share the time axis, so a spike lines up across them.
_FACET_ROW_HEIGHT = 250


def small_multiples(
    df: pd.DataFrame,
    facets: Sequence[Facet],
    *,
    group: str | None = None,
    cols: int = 2,
    row_height: int = _FACET_ROW_HEIGHT,
) -> go.Figure:
    """``facets`` in a grid of ``cols`` columns over a shared time axis (column ``ts``).

    With ``group`` (an instance or source column) a panel has one line per group, in the
    same colour on every panel, and one legend entry per group. Without it, a panel of
    several lines names them in the legend; a panel of one line is named by its title.
    """
    rows = -(-len(facets) // cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        shared_xaxes=True,
        subplot_titles=[_label(f.title) for f in facets],
        vertical_spacing=min(0.3 / rows, 0.12),
        horizontal_spacing=0.08,
    )
    groups = [(None, df)] if group is None else list(df.groupby(group))
    for i, panel in enumerate(facets):
        row, col = i // cols + 1, i % cols + 1
        for g, (name, part) in enumerate(groups):
            for k, (column, line_name) in enumerate(panel.lines):
                # Each line its own points: a frame merged from two series has rows where
                # one of them has no value.
                p = _cap(part[["ts", column]].dropna(subset=[column]))
                colour = g if name is not None else k
                fig.add_scatter(
                    x=_times(p["ts"]),
                    y=p[column],
                    name=_label(line_name if name is None else name),
                    legendgroup=None if name is None else _label(name),
                    showlegend=(name is not None and i == 0)
                    or (name is None and len(panel.lines) > 1),
                    line={"color": _CATEGORICAL[colour % len(_CATEGORICAL)]},
                    mode="lines",
                    fill="tozeroy" if panel.area else None,
                    row=row,
                    col=col,
                )
        for n, limit in enumerate(panel.limits):
            _threshold(fig, limit.y, limit.label, limit.color, n, row=row, col=col)
        if panel.y_range is not None:
            fig.update_yaxes(range=list(panel.y_range), row=row, col=col)
    # Subplot titles are annotations, made before the limit labels: sized and left-aligned
    # like the titles of single charts.
    for i, title in enumerate(fig.layout.annotations[: len(facets)]):
        axis = fig.layout["xaxis" if i == 0 else f"xaxis{i + 1}"]
        title.update(x=axis.domain[0], xanchor="left", font={"size": 15})
    fig.update_xaxes(type="date")  # the times are epoch milliseconds (_times)
    fig.update_layout(
        height=rows * row_height + 80,
        margin={**_MARGIN, "t": 36, "l": 48},
        hovermode="x unified",
        showlegend=any(t.showlegend for t in fig.data),
        legend={"orientation": "h", "yanchor": "top", "y": -0.2 / rows, "xanchor": "left", "x": 0},
    )
    return fig


def kpi_trend(
    df: pd.DataFrame, column: str, title: str, target: float | None, target_label: str = "target"
) -> go.Figure:
    fig = _base(title, "%" if column.endswith("pct") else "score")
    d = _cap(df)
    fig.add_scatter(x=d["ts"], y=d[column], name=_label(title.split(" (")[0]), mode="lines")
    if target is not None:
        _threshold(fig, target, f"{target_label} {target:g}", TARGET)
    return fig


def trust_components(df: pd.DataFrame, columns: Sequence[tuple[str, str]]) -> go.Figure:
    fig = _base("Trust components (0–1)", "0–1")
    d = _cap(df)
    # Markers only on a short series: each is an SVG node of its own in the browser, and 4 x
    # 288 of them (24 h in 5-minute buckets) made this chart the costliest on its page.
    mode = "lines+markers" if len(d) <= MARKERS_UP_TO else "lines"
    for col, label in columns:
        fig.add_scatter(
            x=d["ts" if "ts" in d else "computed_at"],
            y=d[col],
            name=_label(label),
            mode=mode,
            marker={"size": 4},
        )
    fig.update_yaxes(range=[0, 1.05])
    return fig


def sync_lag(df: pd.DataFrame, healthy_s: float, alert_s: float) -> go.Figure:
    fig = _base("Sync lag by source, max per bucket (s)", "seconds")
    for source, part in df.groupby("source", sort=True):
        p = _cap(part)
        fig.add_scatter(x=_times(p["ts"]), y=p["lag_max_s"], name=_label(source), mode="lines")
    _threshold(fig, healthy_s, f"{healthy_s:g} s healthy", WARN)
    _threshold(fig, alert_s, f"{alert_s:g} s P2", CRIT, 1)
    fig.update_xaxes(type="date")  # the times are epoch milliseconds (_times)
    return fig


def bars(df: pd.DataFrame, x: str, y: str, title: str) -> go.Figure:
    fig = _base(title, "agents", height=280)
    fig.add_bar(x=_labels(df[x]), y=df[y], name=_label(y))
    fig.update_layout(hovermode="closest")
    # Category names tilt on a narrow chart: this axis alone sizes its margin to them.
    fig.update_xaxes(automargin=True)
    return fig


def discovery(df: pd.DataFrame) -> go.Figure:
    fig = _base("Discovery rate by source (agents per bucket)", "agents")
    for source, part in df.groupby("source", sort=True):
        fig.add_bar(x=_times(part["ts"]), y=part["agents"], name=_label(source))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(type="date")  # the times are epoch milliseconds (_times)
    return fig


def agent_trust(df: pd.DataFrame) -> go.Figure:
    fig = _base("Trust score over time (0–100)", "score")
    mode = "lines+markers" if len(df) <= MARKERS_UP_TO else "lines"
    fig.add_scatter(x=df["computed_at"], y=df["score"], name="trust score", mode=mode)
    fig.update_yaxes(range=[0, 100])
    return fig


# Builders with their thresholds bound, for components.chart(panel, builder, key).
def kpi_builder(
    column: str, title: str, target: float | None, label: str = "target"
) -> Callable[[pd.DataFrame], go.Figure]:
    return lambda df: kpi_trend(df, column, title, target, label)


def sync_lag_builder(healthy_s: float, alert_s: float) -> Callable[[pd.DataFrame], go.Figure]:
    return lambda df: sync_lag(df, healthy_s, alert_s)


def capacity_trend(df: pd.DataFrame, title: str, unit: str, limit: float | None) -> go.Figure:
    """One capacity metric per day (columns ts, value) with its threshold, if it has one."""
    fig = _base(title, unit or "count")
    d = _cap(df)
    fig.add_scatter(
        x=d["ts"], y=d["value"], name=_label(title.split(" (")[0]), mode="lines+markers"
    )
    if limit is not None:
        _threshold(fig, limit, f"threshold {limit:g}", TARGET)
    return fig


def sparkline(points: Sequence[tuple[str, float | None]], threshold: float) -> go.Figure:
    """A small line of an alert's recent values with its threshold dashed (Alerts page)."""
    df = pd.DataFrame(list(points), columns=["ts", "value"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True, errors="coerce")
    fig = go.Figure(go.Scatter(x=df["ts"], y=df["value"], mode="lines", line={"width": 2}))
    fig.add_hline(y=threshold, line_dash="dash", line_color="#d1242f", line_width=1)
    fig.update_layout(
        height=70,
        margin={"l": 0, "r": 0, "t": 4, "b": 4},
        showlegend=False,
        xaxis={"visible": False},
        yaxis={"visible": False},
        hovermode="x",
    )
    return fig
