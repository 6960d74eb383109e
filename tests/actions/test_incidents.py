"""Incident and on-call actions: lifecycle and phase rules, postmortem before a P1/P2 close,
idempotency, version guard, audit, status updates into the outbox, quarantines on the timeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, text

from dashboard.actions import incidents, oncall
from dashboard.actions.agents import quarantine_agent
from dashboard.actions.base import ActionResult, Actor, cli_actor
from dashboard.data.incidents import (
    declare_incident_for_alert,
    get_incident,
    list_timeline,
    record_timeline,
)
from dashboard.data.oncall import get_on_call
from dashboard.domain.permissions import Role
from tests.actions.conftest import LoggedIn, audit_rows, make_agent, make_user, unique


def _declare(engine: Engine, actor: Actor, severity: str = "P1", title: str = "API down") -> int:
    result = incidents.declare(
        engine,
        actor,
        title=title,
        severity=severity,
        request_key=unique("rk"),
    )
    assert result.outcome == "changed", result
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT max(id) FROM incidents")).scalar_one())


def _version(engine: Engine, iid: int) -> int:
    with engine.connect() as conn:
        found = get_incident(conn, incident_id=iid)
        assert found is not None
        return found.version


def test_declare_is_idempotent_per_request_key(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    user = signed_in(Role.ONCALL)
    key = unique("rk")
    first = incidents.declare(auth_engine, user.actor, title="x", severity="P2", request_key=key)
    again = incidents.declare(auth_engine, user.actor, title="x", severity="P2", request_key=key)
    assert first.outcome == "changed" and again.outcome == "noop"
    rows = [r for r in audit_rows(auth_engine, actor=user.username) if r["outcome"] == "ok"]
    assert [r["action"] for r in rows if r["action"].startswith("incident.")] == [
        "incident.declare"
    ]
    bad = incidents.declare(auth_engine, user.actor, title="x", severity="P9", request_key="k2")
    assert bad.outcome == "invalid" and "P1 to P4" in bad.message


def test_lifecycle_phase_rules_and_p1_close_needs_postmortem(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    user = signed_in(Role.ONCALL)
    commander = make_user(auth_engine, Role.ONCALL)
    t0 = datetime.now(UTC)
    iid = _declare(auth_engine, user.actor, "P1")
    stale = _version(auth_engine, iid)
    assigned = incidents.assign(
        auth_engine,
        user.actor,
        iid,
        commander=commander,
        comms_lead=user.username,
        expected_version=stale,
        now=t0,
    )
    assert assigned.outcome == "changed"
    # The version the first screen showed is stale now: no lost update.
    conflict = incidents.set_phase(auth_engine, user.actor, iid, "triage", expected_version=stale)
    assert conflict.outcome == "conflict"
    assert incidents.set_phase(auth_engine, user.actor, iid, "triage").outcome == "changed"
    assert incidents.set_phase(auth_engine, user.actor, iid, "triage").outcome == "noop"
    back = incidents.set_phase(auth_engine, user.actor, iid, "detect")
    assert back.outcome == "invalid" and "cannot move" in back.message
    for phase in ("communicate", "investigate", "mitigate", "resolve"):
        assert incidents.set_phase(auth_engine, user.actor, iid, phase).outcome == "changed"
    early = incidents.close(auth_engine, user.actor, iid)
    assert early.outcome == "invalid" and "review" in early.message
    assert incidents.set_phase(auth_engine, user.actor, iid, "review").outcome == "changed"
    missing = incidents.close(auth_engine, user.actor, iid)
    assert missing.outcome == "invalid" and "postmortem" in missing.message
    draft = incidents.save_postmortem(
        auth_engine,
        user.actor,
        iid,
        summary="s",
        impact="i",
        root_cause="",
        action_items=[],
        expected_version=0,
    )
    assert draft.outcome == "changed"
    assert "root cause" in incidents.close(auth_engine, user.actor, iid).message
    stale_pm = incidents.save_postmortem(
        auth_engine,
        user.actor,
        iid,
        summary="s",
        impact="i",
        root_cause="c",
        action_items=[],
        expected_version=0,
    )
    assert stale_pm.outcome == "conflict"
    done = incidents.save_postmortem(
        auth_engine,
        user.actor,
        iid,
        summary="API returned 503",
        impact="All clients for 20 minutes",
        root_cause="Pool exhausted",
        action_items=[incidents.ActionItemInput("Raise pool", commander, date(2026, 12, 20))],
        expected_version=1,
    )
    assert done.outcome == "changed"
    closed = incidents.close(auth_engine, user.actor, iid)
    assert closed.outcome == "changed"
    assert incidents.close(auth_engine, user.actor, iid).outcome == "noop"
    with auth_engine.connect() as conn:
        found = get_incident(conn, incident_id=iid)
        # in the order written (the wall clock of a test machine may step back a little)
        kinds = [e.kind for e in sorted(list_timeline(conn, incident_id=iid), key=lambda e: e.id)]
    assert (
        found is not None
        and found.acknowledged_at is not None
        and found.acknowledged_at >= t0
        and found.resolved_at is not None
    )
    assert kinds[0] == "declared" and kinds[-1] == "closed", kinds
    assert kinds.count("phase") == 6 and "roles" in kinds and "postmortem" in kinds
    actions = [r["action"] for r in audit_rows(auth_engine, target_id=str(iid))]
    assert actions.count("incident.set_phase") == 6 and "incident.close" in actions


def test_p3_closes_once_resolved_without_postmortem(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    user = signed_in(Role.ADMIN)
    iid = _declare(auth_engine, user.actor, "P3")
    assert incidents.close(auth_engine, user.actor, iid).outcome == "invalid"
    assert incidents.set_phase(auth_engine, user.actor, iid, "resolve").ok
    assert incidents.close(auth_engine, user.actor, iid).outcome == "changed"


def test_notes_and_status_updates(auth_engine: Engine, signed_in: Callable[..., LoggedIn]) -> None:
    user = signed_in(Role.ONCALL)
    iid = _declare(auth_engine, user.actor, "P2")
    key = unique("rk")
    assert incidents.add_note(auth_engine, user.actor, iid, "internal", request_key=key).ok
    again = incidents.add_note(auth_engine, user.actor, iid, "internal", request_key=key)
    assert again.outcome == "noop"
    posted = incidents.post_status_update(
        auth_engine, user.actor, iid, "We are investigating.", request_key=unique("rk")
    )
    assert posted.outcome == "changed"
    with auth_engine.connect() as conn:
        entries = list_timeline(conn, incident_id=iid)
        public = list_timeline(conn, incident_id=iid, public_only=True)
        outbox = conn.execute(
            text("SELECT severity, audience, body FROM notification_outbox WHERE group_key = :g"),
            {"g": f"incident:{iid}"},
        ).all()
    assert [e.kind for e in entries].count("note") == 1
    assert [e.text for e in public] == ["We are investigating."]
    assert [tuple(r) for r in outbox] == [("P2", "broadcast", "We are investigating.")]
    empty = incidents.add_note(auth_engine, user.actor, iid, "   ", request_key=unique("rk"))
    assert empty.outcome == "invalid"


def test_quarantine_while_an_incident_is_open_reaches_its_timeline(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    responder = signed_in(Role.ONCALL)
    operator = signed_in(Role.OPERATOR)
    iid = _declare(auth_engine, responder.actor, "P1")
    agent = make_agent(auth_engine)
    assert quarantine_agent(auth_engine, operator.actor, agent, "leaking secrets").ok
    with auth_engine.connect() as conn:
        texts = [e.text for e in list_timeline(conn, incident_id=iid) if e.kind == "quarantine"]
    assert texts == [f"Quarantined agent #{agent}: leaking secrets"]


def test_rotation_and_overrides_actions(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    admin = signed_in(Role.ADMIN)
    ann, bob = make_user(auth_engine, Role.ONCALL), make_user(auth_engine, Role.ONCALL)
    with auth_engine.connect() as conn:
        row = conn.execute(text("SELECT version FROM oncall_rotation")).scalar()
    version = int(row) if row is not None else 0

    def save(primary: list[str], expected: int | None = None) -> ActionResult:
        return oncall.save_rotation(
            auth_engine,
            admin.actor,
            primary=primary,
            secondary=[bob],
            manager=[],
            handover_weekday=0,
            handover_hour=9,
            timezone="UTC",
            anchor=date(2026, 11, 30),
            expected_version=expected,
        )

    saved = save([ann, bob], version)
    assert saved.outcome == "changed", saved
    assert save([ann, bob]).outcome == "noop"
    assert save([bob], version).outcome == "conflict"
    ghost = save(["nobody-here"])
    assert ghost.outcome == "invalid" and "nobody-here" in ghost.message
    monday = datetime(2026, 11, 30, 10, tzinfo=UTC)
    with auth_engine.connect() as conn:
        assert get_on_call(conn, at=monday).primary == ann
    start, end = monday + timedelta(hours=1), monday + timedelta(hours=3)
    added = oncall.add_override(
        auth_engine, admin.actor, role="primary", username=bob, starts_at=start, ends_at=end
    )
    assert added.outcome == "changed"
    repeat = oncall.add_override(
        auth_engine, admin.actor, role="primary", username=bob, starts_at=start, ends_at=end
    )
    assert repeat.outcome == "noop"
    with auth_engine.connect() as conn:
        assert get_on_call(conn, at=start).primary == bob
        oid = int(conn.execute(text("SELECT max(id) FROM oncall_overrides")).scalar_one())
    assert oncall.cancel_override(auth_engine, admin.actor, oid).outcome == "changed"
    assert oncall.cancel_override(auth_engine, cli_actor(), oid).outcome == "noop"
    with auth_engine.connect() as conn:
        assert get_on_call(conn, at=start).primary == ann
    reversed_range = oncall.add_override(
        auth_engine, admin.actor, role="primary", username=bob, starts_at=end, ends_at=start
    )
    assert reversed_range.outcome == "invalid"


def test_postmortem_markdown_escapes_untrusted_text(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    user = signed_in(Role.ONCALL)
    iid = _declare(auth_engine, user.actor, "P2", title="<img src=x onerror=alert(1)> # down")
    assert incidents.save_postmortem(
        auth_engine,
        user.actor,
        iid,
        summary="line1\n# injected heading",
        impact="| a | b |",
        root_cause="[click](javascript:x)",
        action_items=[incidents.ActionItemInput("fix *now*", user.username, date(2026, 12, 24))],
    ).ok
    md = incidents.postmortem_markdown(auth_engine, iid)
    assert md is not None
    assert "<img" not in md and "&lt;img" in md
    assert "\n# injected" not in md and "\\# injected heading" in md
    assert "\\[click\\]\\(javascript" in md
    assert "fix \\*now\\*" in md and "2026-12-24" in md
    assert "## Timeline" in md and "declared" in md


def test_declare_by_hand_linked_to_an_alert(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    user = signed_in(Role.ONCALL)
    key = f"svc_down|{unique('l')}|2026-12-03T06:00:00+00:00"
    made = incidents.declare(
        auth_engine,
        user.actor,
        title="Core down",
        severity="P1",
        request_key=unique("rk"),
        alert_key=key,
        rule_id="service_down",
    )
    assert made.outcome == "changed"
    again = incidents.declare(
        auth_engine,
        user.actor,
        title="Core down",
        severity="P1",
        request_key=unique("rk"),
        alert_key=key,
        rule_id="service_down",
    )
    assert again.outcome == "noop" and "this alert already has incident" in again.message
    with auth_engine.begin() as conn:
        iid = declare_incident_for_alert(
            conn,
            alert_key=key,
            rule_id="service_down",
            severity="P1",
            title="x",
            at=datetime.now(UTC),
            actor="system:alerts",
        )
        assert (
            record_timeline(
                conn, kind="alert", at=datetime.now(UTC), actor=None, text="resolved", alert_key=key
            )
            == 1
        )
        assert [e.kind for e in list_timeline(conn, incident_id=iid)][-1] == "alert"
