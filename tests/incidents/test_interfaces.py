"""The interfaces other helpers call: get_on_call, declare_incident_for_alert, record_timeline,
summarize_incident_times, on a real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, text

from dashboard.data.incidents import (
    declare_incident,
    declare_incident_for_alert,
    list_timeline,
    record_timeline,
    summarize_incident_times,
    update_incident,
)
from dashboard.data.oncall import OnCall, get_on_call, record_override, record_rotation
from dashboard.domain.oncall import OnCallRole, Rotation

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


def test_nobody_is_on_call_without_a_rotation(clean: Engine) -> None:
    with clean.connect() as conn:
        assert get_on_call(conn, at=T0) == OnCall(None, None, None)


def test_get_on_call_follows_rotation_and_overrides(clean: Engine) -> None:
    rotation = Rotation(
        primary=("ann", "bob"),
        secondary=("cid",),
        manager=("meg",),
        handover_weekday=0,
        handover_hour=9,
        timezone="UTC",
        anchor=date(2026, 3, 2),
    )
    with clean.begin() as conn:
        record_rotation(conn, rotation=rotation, actor="t", at=T0, version=1)
        assert get_on_call(conn, at=T0) == OnCall("ann", "cid", "meg")
        assert get_on_call(conn, at=T0 + timedelta(days=7)).primary == "bob"
        assert get_on_call(conn, at=T0 + timedelta(days=14)).primary == "ann"
        record_override(
            conn,
            role=OnCallRole.PRIMARY,
            username="zoe",
            starts_at=T0 + timedelta(hours=1),
            ends_at=T0 + timedelta(hours=5),
            reason="swap",
            actor="t",
        )
        assert get_on_call(conn, at=T0).primary == "ann"
        assert get_on_call(conn, at=T0 + timedelta(hours=1)).primary == "zoe"
        assert get_on_call(conn, at=T0 + timedelta(hours=5)).primary == "ann"  # end is exclusive
        assert get_on_call(conn, at=T0 + timedelta(hours=2)).secondary == "cid"


def test_declare_for_alert_is_idempotent_and_links(clean: Engine) -> None:
    with clean.begin() as conn:
        first = declare_incident_for_alert(
            conn,
            alert_key="svc_down|{}|1",
            rule_id="svc_down",
            severity="P1",
            title="Service down",
            at=T0,
            actor="worker",
        )
        again = declare_incident_for_alert(
            conn,
            alert_key="svc_down|{}|1",
            rule_id="svc_down",
            severity="P1",
            title="Service down",
            at=T0 + timedelta(minutes=1),
            actor="worker",
        )
        assert first == again
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar_one() == 1
        added = record_timeline(
            conn,
            kind="alert.resolved",
            at=T0 + timedelta(minutes=3),
            actor=None,
            text="Service Down resolved",
            alert_key="svc_down|{}|1",
        )
        assert added == 1
        assert (
            record_timeline(
                conn, kind="alert.firing", at=T0, actor=None, text="x", alert_key="other"
            )
            == 0
        )
        kinds = [e.kind for e in list_timeline(conn, incident_id=first)]
        assert kinds == ["declared", "alert.resolved"]


def test_two_workers_declare_one_incident(clean: Engine) -> None:
    barrier = threading.Barrier(2)
    ids: list[int] = []

    def worker() -> None:
        with clean.begin() as conn:
            barrier.wait()
            ids.append(
                declare_incident_for_alert(
                    conn,
                    alert_key="race",
                    rule_id="r",
                    severity="P1",
                    title="t",
                    at=T0,
                    actor="w",
                )
            )

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 2 and ids[0] == ids[1]
    with clean.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar_one() == 1


def test_timeline_by_alert_skips_closed_incidents(clean: Engine) -> None:
    with clean.begin() as conn:
        iid = declare_incident_for_alert(
            conn, alert_key="k", rule_id="r", severity="P2", title="t", at=T0, actor="w"
        )
        assert update_incident(conn, incident_id=iid, version=1, closed_at=T0, closed_by="x")
        assert (
            record_timeline(conn, kind="alert.firing", at=T0, actor=None, text="x", alert_key="k")
            == 0
        )


def test_mtta_mttr_on_known_data(clean: Engine) -> None:
    start = datetime(2031, 1, 1, tzinfo=UTC)
    with clean.begin() as conn:
        for sev, ack_min, fix_min in (("P1", 4, 30), ("P1", 8, 90), ("P2", 20, None)):
            iid, _ = declare_incident(conn, title="t", severity=sev, at=start, actor="t")
            update_incident(
                conn,
                incident_id=iid,
                version=1,
                acknowledged_at=start + timedelta(minutes=ack_min),
                resolved_at=None if fix_min is None else start + timedelta(minutes=fix_min),
            )
        declare_incident(conn, title="t", severity="P3", at=start - timedelta(days=1), actor="t")
        got = {
            t.severity: t
            for t in summarize_incident_times(conn, start=start, end=start + timedelta(days=1))
        }
    assert got["P1"].count == 2 and got["P1"].mtta_s == 360.0 and got["P1"].mttr_s == 3600.0
    assert got["P2"].count == 1 and got["P2"].mtta_s == 1200.0 and got["P2"].mttr_s is None
    assert got["P3"].count == 0 and got["P3"].mtta_s is None
    assert got["P4"].count == 0
