"""SLA review, capacity review, the worker's monthly filing and the report store, on real data."""

from __future__ import annotations

import io
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import redis
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from dashboard.data import capacity, health, kpis, metrics, report_store, violations
from dashboard.domain.forecast import forecast_crossing
from dashboard.reports.capacity import (
    build_capacity_review,
    record_today,
    render_capacity,
    size_text,
)
from dashboard.reports.scheduled import due_reports, file_scheduled_reports
from dashboard.reports.sla import build_sla_review, render_sla
from tests.conftest import SEED_NOW
from tests.harness import ARTIFACTS
from tests.reports.conftest import HOSTILE_NAMES

Q_START = SEED_NOW - timedelta(days=3)
Q_END = SEED_NOW
GEN = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)


def _text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True)
    return " ".join(out.stdout.split())


def test_sla_review_figures_and_pdf(report_engine: Engine, tmp_path: Path) -> None:
    with report_engine.connect() as conn:
        review = build_sla_review(
            conn, start=Q_START, end=Q_END, generated_at=GEN, uptime_target_pct=99.9
        )
        uptime = health.summarize_uptime(conn, now=Q_END, windows=[Q_END - Q_START])
        summary = kpis.summarize_kpis(conn, start=Q_START, end=Q_END, now=Q_END)
        misses = violations.list_sla_misses(conn, start=Q_START, end=Q_END, now=Q_END, limit=200)
    assert review.uptime["uptime_pct"].tolist() == uptime["uptime_pct"].tolist()
    assert review.uptime["checks"].sum() > 0
    assert review.compliance_pct == summary.compliance_sla_pct
    assert review.breaches["id"].tolist() == misses["id"].tolist()
    # Every listed breach really missed: resolved after its deadline, or open past it.
    for res, dl in zip(review.breaches["resolved_at"], review.breaches["deadline_at"], strict=True):
        assert (pd.isna(res) and dl < Q_END) or res > dl
    files = render_sla(review)
    (ARTIFACTS / "reports").mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "reports" / "sla.pdf").write_bytes(files.pdf)
    flat = _text(files.pdf, tmp_path)
    for heading in (
        "SLA compliance review",
        "Uptime per component",
        "Incident response",
        "Compliance SLA trend",
        "Breaches",
    ):
        assert heading in flat
    assert "Page 1 of" in flat
    # P1 answered in 10 min (target 15 min), P2 in 30 min (target 1 h): both met.
    assert "P1 1 15 min 10 min 2.0 h met" in flat
    assert "P2 1 1.0 h 30 min – met" in flat
    wb = load_workbook(io.BytesIO(files.xlsx))
    rows = list(wb["Breaches"].iter_rows(values_only=True))
    assert len(rows) - 1 == len(review.breaches)
    if len(rows) > 1:
        assert str(rows[1][-1]).startswith("/agent_registry?agent=")


def test_capacity_sample_is_recorded_from_the_real_servers(
    report_engine: Engine, redis_client: redis.Redis
) -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with report_engine.begin() as conn:
        written = record_today(conn, redis_client, now=now)
        again = record_today(conn, redis_client, now=now)  # replaces, never doubles
    assert written == again > 4
    with report_engine.connect() as conn:
        df = capacity.list_capacity_samples(
            conn, start=now.date(), end=now.date() + timedelta(days=1)
        )
    metrics_seen = set(df["metric"])
    assert {
        "db_size_bytes",
        "table_size_bytes",
        "redis_used_memory_bytes",
        "db_connections",
    } <= metrics_seen
    assert len(df) == written
    assert df[df["metric"] == "db_size_bytes"]["value"].iloc[0] > 1_000_000
    assert "agents" in set(df[df["metric"] == "table_size_bytes"]["subject"])


def test_capacity_review_forecasts_from_the_data_layer(
    report_engine: Engine, tmp_path: Path
) -> None:
    end = datetime(2026, 11, 21, tzinfo=UTC)
    # A synthetic database-size history with a known slope: 1 GB + 10 MB a day.
    with report_engine.begin() as conn:
        for i in range(30):
            day = date(2026, 10, 22) + timedelta(days=i)
            capacity.record_capacity_sample(
                conn,
                day=day,
                values=[
                    ("db_size_bytes", "", 1e9 + 1e7 * i),
                    ("table_size_bytes", "=evil()", 5e6 + 1e5 * i),
                ],
            )
    with report_engine.connect() as conn:
        review = build_capacity_review(conn, end=end, generated_at=GEN)
        res = metrics.list_resource_series(
            conn, start=review.start, end=review.end, bucket=timedelta(days=1)
        )
    by_key = {g.key: g for g in review.metrics}
    assert by_key["db_size"].slope_per_day == pytest.approx(1e7, rel=0.05)
    disk = res.groupby("ts")["disk_pct"].max()
    expected = forecast_crossing(
        "Disk",
        [(pd.Timestamp(str(t)).to_pydatetime(), float(v)) for t, v in disk.items()],
        threshold=80.0,
        now=review.end,
    )
    assert by_key["disk_pct"].forecast == expected
    assert by_key["disk_pct"].latest == pytest.approx(float(disk.iloc[-1]))
    files = render_capacity(review)
    (ARTIFACTS / "reports" / "capacity.pdf").write_bytes(files.pdf)
    flat = _text(files.pdf, tmp_path)
    assert "Capacity planning review" in flat and "Growth and forecasts" in flat
    assert expected.sentence() in flat
    assert "=evil()" in flat
    wb = load_workbook(io.BytesIO(files.xlsx))
    tables = [r[0] for r in wb["Table sizes"].iter_rows(values_only=True)][1:]
    assert "'=evil()" in tables


def test_worker_files_each_report_once(report_engine: Engine) -> None:
    now = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    assert [k for k, _, _ in due_reports(now)] == ["executive", "capacity", "sla"]
    assert [k for k, _, _ in due_reports(datetime(2026, 12, 1, tzinfo=UTC))] == [
        "executive",
        "capacity",
    ]
    first = file_scheduled_reports(report_engine, now=now)
    assert set(first) == {"executive", "capacity", "sla"} and all(first.values())
    assert file_scheduled_reports(report_engine, now=now + timedelta(hours=1)) == {}
    with report_engine.connect() as conn:
        listed = report_store.list_reports(conn, limit=50)
        mine = listed[listed["id"].isin(list(first.values()))]
        assert len(mine) == 3 and set(mine["trigger"]) == {"scheduled"}
        assert set(mine[mine["kind"] == "executive"]["title"]) == {
            "Executive summary · December 2026"
        }
        # Named by the last day it covers (its end is exclusive: 2027-01-01).
        assert set(mine[mine["kind"] == "capacity"]["title"]) == {
            "Capacity planning review · 90 days to 2026-12-31"
        }
        name, data = report_store.get_report_file(
            conn, report_id=int(first["executive"] or 0), fmt="pdf"
        ) or ("", b"")
        assert name.endswith(".pdf") and data.startswith(b"%PDF-")
        page = report_store.list_reports(conn, limit=1)
        nxt = report_store.list_reports(
            conn,
            limit=1,
            before=(page["generated_at"].iloc[0].to_pydatetime(), int(page["id"].iloc[0])),
        )
        assert nxt["id"].iloc[0] != page["id"].iloc[0]
        assert report_store.get_report_file(conn, report_id=-1, fmt="csv") is None
        count = conn.execute(
            text("SELECT count(*) FROM reports WHERE trigger = 'scheduled'")
        ).scalar_one()
        outbox = conn.execute(
            text("""SELECT subject, audience, link FROM notification_outbox
                    WHERE source = 'reports' ORDER BY id""")
        ).all()
    assert count == 3
    # One announcement per filed report, to the managers, pointing at the Reports page.
    assert len(outbox) == 3
    assert {(r.audience, r.link) for r in outbox} == {("manager", "/reports")}
    assert "Executive summary · December 2026" in {r.subject for r in outbox}
    assert HOSTILE_NAMES  # the seeded names are in this database too


def test_a_flat_trend_reads_as_zero_not_minus_zero() -> None:
    assert size_text(-0.001, "%") == "0.0 %"
    assert size_text(-0.001, "req/s") == "0.00 req/s"
    assert size_text(-0.06, "%") == "-0.1 %"
    assert size_text(None, "%") == "no data"
