"""Incidents and On-call pages under AppTest: oncall runs an incident and the rotation from the
page; a manager reads both without any control that changes things."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pandas as pd
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from dashboard.domain.permissions import Role
from tests.conftest import SEED_NOW
from tests.pages.conftest import make_user, new_app, sign_in


def _keys(at: AppTest) -> set[str]:
    return {str(b.key) for b in at.button}


def _frame(at: AppTest, column: str) -> pd.DataFrame:
    """The one table of the page that has ``column`` (AppTest finds dataframes by position)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


def test_oncall_declares_and_runs_an_incident(app_env: None, seeded_engine: Engine) -> None:
    at = new_app(sign_in(seeded_engine, Role.ONCALL))
    at.switch_page("pages/incidents.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Incidents"
    title = f"Checkout API down {secrets.token_hex(3)}"
    at.text_input(key="incidents.new_title").set_value(title)
    at.selectbox(key="incidents.new_severity").set_value("P1")
    at.text_area(key="incidents.new_note").set_value("paged by phone")
    at.button(key="incidents.declare").click().run()
    assert not at.exception, at.exception
    assert any("declared" in s.value for s in at.success), [s.value for s in at.success]
    with seeded_engine.connect() as conn:
        iid = int(
            conn.execute(
                text("SELECT id FROM incidents WHERE title = :t"), {"t": title}
            ).scalar_one()
        )
    at.selectbox(key="incidents.selected").set_value(iid).run()
    assert any("left to respond" in m.value for m in at.markdown)
    at.selectbox(key="incidents.phase_to").set_value("triage")
    at.button(key="incidents.move").click().run()
    assert not at.exception, at.exception
    assert any("moved to triage" in s.value for s in at.success)
    at.text_area(key="incidents.update").set_value("We are investigating checkout errors.")
    at.button(key="incidents.post_update").click().run()
    assert any("Status update posted" in s.value for s in at.success)
    at.text_area(key="incidents.note").set_value("db pool at 100%")
    at.button(key="incidents.add_note").click().run()
    assert any("Note added" in s.value for s in at.success)
    timeline = _frame(at, "What")
    assert list(timeline["What"]) == ["declared", "note", "phase", "status update", "note"]
    # P1 cannot close from triage: the staged close says why.
    at.button(key="incidents.close.preview").click().run()
    at.button(key="incidents.close.confirm").click().run()
    assert any("review phase" in e.value for e in at.error), [e.value for e in at.error]
    assert not at.exception, at.exception


def test_manager_reads_incidents_without_controls(app_env: None, seeded_engine: Engine) -> None:
    at = new_app(sign_in(seeded_engine, Role.MANAGER))
    at.switch_page("pages/incidents.py").run()
    assert not at.exception, at.exception
    keys = _keys(at)
    assert not {"incidents.declare", "incidents.move", "incidents.add_note"} & keys
    times = _frame(at, "MTTA")
    assert list(times["Severity"]) == ["P1", "P2", "P3", "P4"]
    assert list(times["Response target"]) == ["15m 00s", "1h 00m", "4h 00m", "7d 0h"]


def test_oncall_page_rotation_and_override(app_env: None, seeded_engine: Engine) -> None:
    ann = make_user(seeded_engine, Role.ONCALL)
    bob = make_user(seeded_engine, Role.ONCALL)
    at = new_app(sign_in(seeded_engine, Role.ADMIN))
    at.switch_page("pages/oncall.py").run()
    assert not at.exception, at.exception
    at.text_area(key="oncall.primary").set_value(f"{ann}\n{bob}")
    at.text_area(key="oncall.secondary").set_value(bob)
    at.selectbox(key="oncall.tz").set_value("Europe/Paris")
    at.button(key="oncall.save").click().run()
    assert not at.exception, at.exception
    assert any("Rotation saved" in s.value for s in at.success), [e.value for e in at.error]
    cal = _frame(at, "Overrides inside")
    assert len(cal) == 8
    assert set(cal["Primary"]) == {ann, bob}
    assert any("Europe/Paris" in c.value for c in at.caption)

    # An override for a date range, added through the form, shows in the list and calendar.
    start = SEED_NOW.date() + timedelta(days=2)
    at.selectbox(key="oncall.o_role").set_value("secondary")
    at.selectbox(key="oncall.o_user").set_value(ann)
    at.date_input(key="oncall.o_from_day").set_value(start)
    at.date_input(key="oncall.o_to_day").set_value(start + timedelta(days=3))
    at.text_input(key="oncall.o_reason").set_value("swap for a holiday")
    at.button(key="oncall.o_add").click().run()
    assert not at.exception, at.exception
    assert any(f"{ann} is secondary" in s.value for s in at.success), [e.value for e in at.error]
    overrides = _frame(at, "Set by")
    assert list(overrides["Who"]) == [ann] and list(overrides["Role"]) == ["secondary"]
    assert "secondary" in set(_frame(at, "Overrides inside")["Overrides inside"])

    manager = new_app(sign_in(seeded_engine, Role.MANAGER))
    manager.switch_page("pages/oncall.py").run()
    assert not manager.exception, manager.exception
    assert not {"oncall.save", "oncall.o_add"} & _keys(manager)
    assert len(_frame(manager, "Overrides inside")) == 8


def test_trust_kpis_shows_incident_response(app_env: None, seeded_engine: Engine) -> None:
    at = new_app(sign_in(seeded_engine, Role.MANAGER))
    at.switch_page("pages/trust_kpis.py").run()
    assert not at.exception, at.exception
    assert list(_frame(at, "MTTA")["Severity"]) == [
        "P1",
        "P2",
        "P3",
        "P4",
    ]


def test_timer_turns_red_on_breach_on_the_console_clock(
    app_env: None, seeded_engine: Engine
) -> None:
    """The console's clock is pinned (ORCA_FIXED_NOW = SEED_NOW): a P2 declared 61 minutes
    before it is overdue (red), one declared 59 minutes before is not."""
    from dashboard.actions import incidents
    from dashboard.actions.base import cli_actor

    names = {}
    for minutes in (61, 59):
        names[minutes] = f"Latency high {secrets.token_hex(3)}"
        assert incidents.declare(
            seeded_engine,
            cli_actor(),
            title=names[minutes],
            severity="P2",
            request_key=secrets.token_hex(6),
            now=SEED_NOW - timedelta(minutes=minutes),
        ).ok
    at = new_app(sign_in(seeded_engine, Role.MANAGER))
    at.switch_page("pages/incidents.py").run()
    assert not at.exception, at.exception
    texts = [m.value for m in at.markdown]
    late = texts.index(next(t for t in texts if names[61] in t))
    fresh = texts.index(next(t for t in texts if names[59] in t))
    assert texts[late + 1].startswith(":red[") and "overdue by 1m 00s" in texts[late + 1]
    assert texts[fresh + 1].startswith(":orange[") and "1m 00s left" in texts[fresh + 1]
