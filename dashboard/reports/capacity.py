"""The capacity planning review: 90 days of growth, each with a linear forecast of the day it
crosses the guide's thresholds (disk 80 %, memory 85 %, DB connections 80 % of the pool)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import redis
from sqlalchemy import Connection

from dashboard.data import capacity, metrics
from dashboard.data.cache import register
from dashboard.data.report_store import ReportFiles
from dashboard.domain import thresholds as th
from dashboard.domain.forecast import Forecast, fit_linear, forecast_crossing
from dashboard.reports import pdf
from dashboard.reports.tables import Section, to_csv, to_xlsx

DAYS = 90
Point = tuple[datetime, float]


register(Forecast)  # travels through the shared cache inside Growth


@register
@dataclass(frozen=True)
class Growth:
    """One metric's daily series, its trend per day and, when it has a limit, the forecast."""

    key: str
    name: str
    unit: str  # "", "req/s", "bytes", "%"
    points: list[Point]
    slope_per_day: float | None
    forecast: Forecast | None

    @property
    def latest(self) -> float | None:
        return self.points[-1][1] if self.points else None


@register
@dataclass(frozen=True)
class CapacityReview:
    start: datetime
    end: datetime
    generated_at: datetime
    metrics: list[Growth]
    tables: pd.DataFrame  # table, bytes (latest day), growth_bytes_per_day

    @property
    def title(self) -> str:
        # The period's last day (``end`` is exclusive): what a reader takes the date to mean.
        last = self.end - timedelta(days=1)
        return f"Capacity planning review · {(self.end - self.start).days} days to {last:%Y-%m-%d}"


def _day(d: Any) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _growth(
    key: str, name: str, unit: str, points: list[Point], *, threshold: float | None, now: datetime
) -> Growth:
    fit = fit_linear(points)
    fc = (
        None
        if threshold is None
        else forecast_crossing(name, points, threshold=threshold, now=now, unit="%")
    )
    return Growth(key, name, unit, points, None if fit is None else fit.slope_per_day, fc)


def build_capacity_review(
    conn: Connection, *, end: datetime, generated_at: datetime, days: int = DAYS
) -> CapacityReview:
    """The last ``days`` days up to ``end`` (whole UTC days)."""
    end = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    day = timedelta(days=1)
    agents = capacity.list_agent_growth(conn, start=start, end=end)
    req = metrics.list_request_series(conn, start=start, end=end, bucket=day)
    res = metrics.list_resource_series(conn, start=start, end=end, bucket=day)
    # The busiest instance decides when capacity runs out.
    res_max = (
        res.groupby("ts", as_index=False)[["disk_pct", "memory_pct", "db_conn_pct"]].max()
        if not res.empty
        else pd.DataFrame(columns=["ts", "disk_pct", "memory_pct", "db_conn_pct"])
    )
    samples = capacity.list_capacity_samples(conn, start=start.date(), end=end.date())

    def sample_points(metric: str) -> list[Point]:
        s = samples[(samples["metric"] == metric) & (samples["subject"] == "")]
        return [(_day(d), float(v)) for d, v in zip(s["day"], s["value"], strict=True)]

    def col(df: pd.DataFrame, name: str) -> list[Point]:
        return [
            (t.to_pydatetime(), float(v))
            for t, v in zip(df["ts"], df[name], strict=True)
            if not pd.isna(v)
        ]

    used = dict(sample_points("redis_used_memory_bytes"))
    limit = dict(sample_points("redis_maxmemory_bytes"))
    redis_pct = [(d, 100.0 * u / limit[d]) for d, u in used.items() if limit.get(d)]
    lines = [
        _growth(
            "agents",
            "Agents",
            "",
            [
                (_day(d), float(n))
                for d, n in zip(agents["day"], agents["total_agents"], strict=True)
            ],
            threshold=None,
            now=end,
        ),
        _growth("request_rate", "Request rate", "req/s", col(req, "rps"), threshold=None, now=end),
        _growth(
            "db_size",
            "Database size",
            "bytes",
            sample_points("db_size_bytes"),
            threshold=None,
            now=end,
        ),
        _growth(
            "redis_memory",
            "Redis memory",
            "bytes",
            sample_points("redis_used_memory_bytes"),
            threshold=None,
            now=end,
        ),
        _growth("disk_pct", "Disk", "%", col(res_max, "disk_pct"), threshold=th.DISK_PCT, now=end),
        _growth(
            "memory_pct",
            "Memory",
            "%",
            col(res_max, "memory_pct"),
            threshold=th.MEMORY_PCT,
            now=end,
        ),
        _growth(
            "db_conn_pct",
            "DB connections (of pool)",
            "%",
            col(res_max, "db_conn_pct"),
            threshold=th.DB_CONNECTIONS_PCT_OF_POOL,
            now=end,
        ),
    ]
    if redis_pct:
        lines.append(
            _growth(
                "redis_memory_pct",
                "Redis memory (of maxmemory)",
                "%",
                redis_pct,
                threshold=th.MEMORY_PCT,
                now=end,
            )
        )
    t = samples[samples["metric"] == "table_size_bytes"]
    rows = []
    for name, g in t.groupby("subject"):
        pts = [(_day(d), float(v)) for d, v in zip(g["day"], g["value"], strict=True)]
        fit = fit_linear(pts)
        rows.append(
            {
                "table": str(name),
                "bytes": pts[-1][1],
                "growth_bytes_per_day": None if fit is None else fit.slope_per_day,
            }
        )
    tables = pd.DataFrame(rows, columns=["table", "bytes", "growth_bytes_per_day"])
    if not tables.empty:
        tables = tables.sort_values("bytes", ascending=False).reset_index(drop=True)
    return CapacityReview(start, end, generated_at, lines, tables)


def size_text(v: float | None, unit: str) -> str:
    """``v`` in its unit, rounded for reading; a flat trend is "0.0 %", never "-0.0 %"."""
    text = _size_text(v, unit)
    if text.startswith("-") and not any(c in "123456789" for c in text):
        return text[1:]
    return text


def _size_text(v: float | None, unit: str) -> str:
    if v is None:
        return "no data"
    if unit == "bytes":
        for u, f in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
            if abs(v) >= f:
                return f"{v / f:,.1f} {u}"
        return f"{v:,.0f} B"
    if unit == "%":
        return f"{v:.1f} %"
    if unit == "req/s":
        return f"{v:,.2f} req/s"
    return f"{v:,.0f}"


def _outlook(g: Growth) -> str:
    if g.forecast is not None:
        return g.forecast.sentence()
    if g.slope_per_day is None:
        return f"{g.name}: not enough data for a trend ({len(g.points)} days recorded)"
    month = g.slope_per_day * 30
    sign = "+" if month >= 0 else "−"
    return f"{g.name}: {sign}{size_text(abs(month), g.unit)} a month at the current trend"


def render_capacity(r: CapacityReview) -> ReportFiles:
    w = pdf.CONTENT_WIDTH
    rng = f"{r.start:%Y-%m-%d} – {(r.end - timedelta(days=1)):%Y-%m-%d} UTC"
    crossing = [
        g
        for g in r.metrics
        if g.forecast is not None and g.forecast.outlook in ("crosses", "crossed")
    ]
    headline = (
        "<br/>".join(pdf.safe(g.forecast.sentence()) for g in crossing if g.forecast)
        if crossing
        else "No threshold is crossed at the current trends (disk 80 %, memory 85 %, DB "
        "connections 80 % of the pool)."
    )
    rows = [
        [
            g.name,
            size_text(g.latest, g.unit),
            "–"
            if g.slope_per_day is None
            else size_text(g.slope_per_day, g.unit).replace("req/s", "req/s") + " / day",
            pdf.data_para(_outlook(g)),
        ]
        for g in r.metrics
    ]
    story: list[Any] = [
        pdf.para("Capacity planning review", "h1"),
        pdf.para(
            f"The last {(r.end - r.start).days} days, {rng}. Generated "
            f"{r.generated_at:%Y-%m-%d %H:%M} UTC. Forecasts are least-squares lines "
            "through the daily values.",
            "muted",
        ),
        pdf.para(headline, "callout"),
        pdf.section(
            "Growth and forecasts",
            pdf.table(
                ["Metric", "Latest", "Trend", "Outlook"],
                rows,
                widths=[w * 0.22, w * 0.16, w * 0.18, w * 0.44],
                numeric=[1, 2],
            ),
        ),
    ]
    for g in r.metrics:
        ref = None
        if g.forecast is not None:
            ref = (g.forecast.threshold, f"threshold {g.forecast.threshold:g} %")
        unit_label = {"bytes": " (bytes)", "%": " (%)", "req/s": " (req/s)"}.get(g.unit, "")
        story.append(
            pdf.line_chart(
                f"{g.name}{unit_label}",
                [pdf.Series(g.name, g.points)],
                reference=ref,
                height=42 * 2.83465,
            )
        )
        story.append(pdf.gap(2))
    t_rows = [
        [n, size_text(b, "bytes"), "–" if pd.isna(gr) else size_text(gr, "bytes") + " / day"]
        for n, b, gr in zip(
            r.tables["table"], r.tables["bytes"], r.tables["growth_bytes_per_day"], strict=True
        )
    ]
    story.append(
        pdf.section(
            "Table sizes (latest day)",
            pdf.table(
                ["Table", "Size", "Growth"],
                t_rows,
                widths=[w * 0.4, w * 0.2, w * 0.25],
                numeric=[1, 2],
            )
            if t_rows
            else pdf.para("No capacity sample recorded yet: the worker records one a day."),
        ),
    )
    secs = [
        Section(
            "Forecasts",
            [
                "metric",
                "unit",
                "latest",
                "slope_per_day",
                "threshold",
                "outlook",
                "crosses_on",
                "sentence",
            ],
            [
                [
                    g.key,
                    g.unit,
                    g.latest,
                    g.slope_per_day,
                    None if g.forecast is None else g.forecast.threshold,
                    None if g.forecast is None else g.forecast.outlook,
                    None if g.forecast is None else g.forecast.crosses_on,
                    _outlook(g),
                ]
                for g in r.metrics
            ],
        ),
        Section(
            "Daily series",
            ["metric", "day_utc", "value"],
            [[g.key, t.date(), v] for g in r.metrics for t, v in g.points],
        ),
        Section(
            "Table sizes",
            ["table", "bytes", "growth_bytes_per_day"],
            [
                [n, b, None if pd.isna(gr) else gr]
                for n, b, gr in zip(
                    r.tables["table"],
                    r.tables["bytes"],
                    r.tables["growth_bytes_per_day"],
                    strict=True,
                )
            ],
        ),
    ]
    meta = [("period", rng), ("generated_at_utc", f"{r.generated_at:%Y-%m-%d %H:%M:%S}")]
    return ReportFiles(
        kind="capacity",
        title=r.title,
        period_start=r.start,
        period_end=r.end,
        generated_at=r.generated_at,
        pdf=pdf.render(pdf.Frame(r.title, rng, r.generated_at), story),
        csv=to_csv(r.title, meta, secs),
        xlsx=to_xlsx(r.title, meta, secs),
        summary={g.key: (None if g.forecast is None else g.forecast.sentence()) for g in r.metrics},
    )


def record_today(conn: Connection, client: redis.Redis | None, *, now: datetime) -> int:
    """The worker's daily capacity sample (replaces today's when run again)."""
    return capacity.record_capacity_sample(
        conn, day=now.astimezone(UTC).date(), values=capacity.measure_capacity(conn, client)
    )
