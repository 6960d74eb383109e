"""Reusable page pieces: controls bound to the URL, panel frames with age and state, tiles, tables."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any, Literal, TypeVar

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import telemetry
from dashboard.data.errors import ErrorKind
from dashboard.domain.status import StatusBoard
from dashboard.ui import charts, resources
from dashboard.ui import params as p
from dashboard.ui.csv import to_safe_csv
from dashboard.ui.loaders import Panel
from dashboard.ui.markup import plain, shown_frame

STATUS_ICON = {
    "up": ("green", "check_circle"),
    "degraded": ("orange", "warning"),
    "down": ("red", "error"),
    None: ("gray", "help"),
}
SHORT_LABELS = {"OpenTelemetry Collector": "OTel Collector", "Console worker": "Worker"}
BAND_COLOR = {
    "excellent": "green",
    "good": "green",
    "watch": "orange",
    "at risk": "orange",
    "critical": "red",
}


def query_params() -> dict[str, str]:
    return {k: st.query_params[k] for k in st.query_params}


def _set_param(key: str, value: str | None) -> None:
    if value is None:
        if key in st.query_params:
            del st.query_params[key]
    else:
        st.query_params[key] = value


def controls(page: str) -> tuple[p.RangeChoice, int | None]:
    """Time-range and auto-refresh pickers, kept in the URL (?range=7d&refresh=30 s)."""
    now = resources.now()
    choice = p.parse_range(query_params(), now)
    keys = list(p.RANGE_LABELS)
    cols = st.columns([2, 2, 2, 3])
    picked = cols[0].selectbox(
        "Time range",
        keys,
        index=keys.index(choice.key),
        format_func=p.RANGE_LABELS.__getitem__,
        key=f"{page}.range",
    )
    if picked != choice.key:
        _set_param("range", picked)
        if picked == "custom":
            _set_param("start", (now - timedelta(days=7)).date().isoformat())
            _set_param("end", now.date().isoformat())
        st.rerun()
    if choice.key == "custom":
        picked_dates = cols[1].date_input(
            "From – to",
            value=(choice.time_range.start.date(), choice.time_range.end.date()),
            max_value=now.date(),
            key=f"{page}.custom",
        )
        if isinstance(picked_dates, tuple) and len(picked_dates) == 2:
            start, end = picked_dates
            if (
                isinstance(start, date)
                and isinstance(end, date)
                and (
                    start.isoformat() != query_params().get("start")
                    or end.isoformat() != query_params().get("end")
                )
            ):
                _set_param("start", start.isoformat())
                _set_param("end", end.isoformat())
                st.rerun()
    refresh_keys = list(p.REFRESH_CHOICES)
    refresh = p.parse_refresh(query_params())
    picked_refresh = cols[2].selectbox(
        "Auto-refresh", refresh_keys, index=refresh_keys.index(refresh), key=f"{page}.refresh"
    )
    if picked_refresh != refresh:
        _set_param("refresh", None if picked_refresh == "off" else picked_refresh)
        st.rerun()
    cols[3].caption(
        f"{choice.time_range.start:%Y-%m-%d %H:%M} → {choice.time_range.end:%Y-%m-%d %H:%M} UTC · "
        f"{p.bucket_label(choice.bucket)} buckets"
    )
    if choice.error:
        st.warning(plain(choice.error))
    return choice, p.REFRESH_CHOICES[picked_refresh]


def run_refreshing(body: Callable[[], None], every_s: int | None) -> None:
    """Run the page body in a fragment that reruns every ``every_s`` seconds (never below 10)."""
    if every_s is None:
        body()
        return

    def traced() -> None:  # a fragment rerun is not a page run: give it its own span
        with telemetry.span("page.fragment"):
            body()

    st.fragment(run_every=max(10, every_s))(traced)()


def age_text(panel: Panel[Any]) -> str:
    age = panel.age_s
    if age is None:
        return ""
    if age < 90:
        text = f"data {age:.0f} s old"
    elif age < 5400:
        text = f"data {age / 60:.0f} min old"
    else:
        text = f"data {age / 3600:.1f} h old"
    return text + (" · shared cache unavailable" if panel.cache_degraded else "")


def _is_empty(panel: Panel[Any]) -> bool:
    """Empty by state, or a value that has no rows (a loader may hand on an empty frame)."""
    if panel.state == "empty":
        return True
    value = panel.value
    return panel.state != "error" and isinstance(value, pd.DataFrame) and value.empty


def frame(panel: Panel[Any], *, empty: str = "No data for this range.") -> bool:
    """Show the panel's state; True when its value should be rendered (never an empty table
    or chart: an empty panel says ``empty`` in words instead)."""
    if panel.state == "error":
        st.error(plain(panel.message or "This panel could not be loaded."), icon="⚠️")
        return False
    if _is_empty(panel):
        st.info(empty, icon="ℹ️")
        st.caption(age_text(panel))
        return False
    if panel.state == "stale":
        st.warning("This data is stale: the worker may be behind.", icon="⏳")
    st.caption(age_text(panel))
    return True


#: Figures built per chart key and data, shared by every session of this process: Plotly's
#: validation makes building one 5-15 ms, most of a warm page run, and a dashboard's viewers
#: see the same few cached frames. The figures are only read after they are built. The same
#: for tables' CSV downloads (neutralising and quoting every cell of a few thousand rows is
#: tens of ms per table per run); files above the cap are written each time.
FIGURE_MEMO_SIZE = 256
CSV_MEMO_MAX_BYTES = 2_000_000
_figures: OrderedDict[tuple[object, ...], go.Figure] = OrderedDict()
_csvs: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
_memo_lock = threading.Lock()
T = TypeVar("T")


def _frame_key(key: str, df: pd.DataFrame) -> tuple[object, ...] | None:
    try:
        digest = int(pd.util.hash_pandas_object(df, index=True).sum())
    except TypeError:  # a cell pandas cannot hash (a list, a dict): no memo
        return None
    return (key, digest, len(df), tuple(map(str, df.columns)), tuple(map(str, df.dtypes)))


def _memo(
    store: OrderedDict[tuple[object, ...], T],
    key: str,
    df: pd.DataFrame,
    make: Callable[[pd.DataFrame], T],
    keep: Callable[[T], bool] = lambda _: True,
) -> T:
    """``make(df)``, or what it made before for the same key and equal data (bounded LRU)."""
    memo_key = _frame_key(key, df)
    if memo_key is None:
        return make(df)
    with _memo_lock:
        if memo_key in store:
            store.move_to_end(memo_key)
            return store[memo_key]
    value = make(df)
    if keep(value):
        with _memo_lock:
            store[memo_key] = value
            while len(store) > FIGURE_MEMO_SIZE:
                store.popitem(last=False)
    return value


def memo_figure(
    key: str, df: pd.DataFrame, build: Callable[[pd.DataFrame], go.Figure]
) -> go.Figure:
    """``build(df)``, or the figure built before for the same chart key and equal data."""
    return _memo(_figures, key, df, build)


def memo_csv(key: str, df: pd.DataFrame) -> bytes:
    """``to_safe_csv(df)``, or the bytes written before for the same table key and equal data."""
    return _memo(_csvs, key, df, to_safe_csv, keep=lambda data: len(data) <= CSV_MEMO_MAX_BYTES)


def _theme_type() -> str | None:
    """The viewer's Streamlit theme ("light" or "dark"); None where the run has no browser."""
    try:
        kind = st.context.theme.type
    except (AttributeError, RuntimeError):
        return None
    return kind if kind in charts.TEMPLATES else None


def chart(
    panel: Panel[pd.DataFrame],
    build: Callable[[pd.DataFrame], go.Figure],
    key: str,
    *,
    empty: str = "No data for this range.",
) -> None:
    with st.container(border=True):
        if frame(panel, empty=empty) and panel.value is not None:
            theme = _theme_type()
            st.plotly_chart(
                memo_figure(
                    f"{key}@{theme}", panel.value, lambda df: charts.themed(build(df), theme)
                ),
                theme=None,
                key=key,
                config={"displaylogo": False},
            )


def table(
    panel: Panel[pd.DataFrame],
    key: str,
    *,
    title: str | None = None,
    column_config: Mapping[str, Any] | None = None,
    empty: str,
    file_name: str = "table.csv",
    height: int | Literal["auto"] = "auto",
    select_row: bool = False,
) -> int | None:
    """A table rendered as text (never HTML) with a CSV download of the same rows.

    ``empty`` is required: every table says in its own words what it means that it has no rows.
    With ``select_row`` a click on a row selects it (Streamlit's single-row selection) and its
    position in ``panel.value`` is returned; otherwise, or with nothing selected, None.
    """
    with st.container(border=True):
        if title:
            st.markdown(f"**{title}**")
        if not (frame(panel, empty=empty) and panel.value is not None):
            return None
        df = panel.value
        shown = shown_frame(df.head(1000))
        if select_row:
            event = st.dataframe(
                shown,
                hide_index=True,
                column_config=column_config,
                key=key,
                height=height,
                on_select="rerun",
                selection_mode="single-row",
            )
            rows = event.selection.rows
        else:
            st.dataframe(
                shown, hide_index=True, column_config=column_config, key=key, height=height
            )
            rows = []
        st.download_button(
            "Download CSV",
            memo_csv(key, df),
            file_name=file_name,
            mime="text/csv",
            key=f"{key}.csv",
        )
        return rows[0] if rows and 0 <= rows[0] < len(shown) else None


def lazy_expander(label: str, key: str) -> tuple[Any, bool]:
    """A collapsed expander whose content is built only while it is open: (container, open).

    Streamlit sends a plain expander's content, and the browser draws it, even while it is
    closed; this one tracks its state (opening or closing it reruns the page), so a page
    load does not pay for a table or a form nobody opened.
    """
    box = st.expander(label, expanded=False, key=key, on_change="rerun")
    return box, bool(box.open)


def banner_for(panels: list[Panel[Any]]) -> None:
    """One banner at the top when a server is down, instead of a crash."""
    if any(pn.error is ErrorKind.DB_DOWN for pn in panels):
        st.error(
            "PostgreSQL is unreachable: history and KPIs cannot be shown right now. "
            "The page will recover by itself when the database is back.",
            icon="🛑",
        )
    elif any(pn.cache_degraded for pn in panels):
        st.warning(
            "Redis is unreachable: the shared cache and live state are degraded; "
            "figures come straight from PostgreSQL.",
            icon="⚠️",
        )


# Tiles per row: at 1280 px (sidebar open) a row of three leaves each tile ~270 px, room for
# "quarantined", "$12,345,678" or "1,000,000" at the metric's font size; six or five in a row
# cut them ("Heal…", "anthro…"). Below 640 px Streamlit stacks the columns: one tile per row.
TILES_PER_ROW = 3


def tile_columns(count: int, *, per_row: int = TILES_PER_ROW) -> list[Any]:
    """``count`` columns for metric tiles, in rows of ``per_row`` (the last row keeps the
    same tile width, so every tile of a set is as wide as the others)."""
    cols: list[Any] = []
    while len(cols) < count:
        cols.extend(st.columns(per_row))
    return cols[:count]


def status_header(status: StatusBoard) -> None:
    """One line per component, worst first: healthy / degraded / down at a glance."""
    if not status.components:
        st.info("No component has reported a status yet: the worker probes every few seconds.")
        return
    cols = tile_columns(len(status.components) + 1)
    color, icon = STATUS_ICON.get(status.overall, STATUS_ICON[None])
    # The delta line (also on the component tiles) keeps the Overall tile as tall as the rest.
    cols[0].metric(
        f":{color}[:material/{icon}:] Overall",
        status.overall_label,
        delta=f"worst of {len(status.components)}",
        delta_color="off",
        delta_arrow="off",
        border=True,
    )
    for col, comp in zip(cols[1:], status.components, strict=True):
        color, icon = STATUS_ICON.get(comp.status, STATUS_ICON[None])
        col.metric(
            f":{color}[:material/{icon}:] {SHORT_LABELS.get(comp.label, comp.label)}",
            comp.status or "unknown",
            delta=None if comp.latency_ms is None else f"{comp.latency_ms:.0f} ms",
            delta_color="off",
            delta_arrow="off",
            border=True,
            help=plain(comp.message) if comp.message else None,
        )


def kpi_tile(
    col: Any,
    label: str,
    value: float | None,
    fmt: str,
    *,
    previous: float | None,
    target: str,
    band: str | None = None,
    lower_is_better: bool = False,
) -> None:
    shown = "–" if value is None else fmt.format(value)
    delta = None
    if value is not None and previous is not None:
        delta = fmt.format(value - previous)
        if not delta.startswith("-"):
            delta = "+" + delta
    col.metric(
        label,
        shown,
        delta=delta,
        delta_color="inverse" if lower_is_better else "normal",
        border=True,
        help=f"{target}; the change is versus the previous period of the same length",
    )
    if band:
        col.markdown(f":{BAND_COLOR.get(band, 'gray')}[**{band}**] · {target}")
    else:
        col.caption(target)
