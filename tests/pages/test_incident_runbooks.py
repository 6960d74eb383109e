"""The runbook button on an incident: the one its alert rule names (or the catalogue for one
declared by hand); the run started there is linked to that incident and lands on its timeline
only; a manager sees the button but cannot press it."""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from dashboard.domain.permissions import Role
from dashboard.runbooks.engine import wait_for
from dashboard.runbooks.spec import catalogue
from tests.harness import declare_incident, generous
from tests.pages.conftest import new_app, sign_in


def _open(at: AppTest, incident_id: int) -> AppTest:
    at.switch_page("pages/incidents.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="incidents.selected").set_value(incident_id).run()
    assert not at.exception, at.exception
    return at


def _runbook_timeline(engine: Engine, incident_id: int) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT text FROM incident_timeline WHERE incident_id = :i "
                    "AND kind = 'runbook' ORDER BY id"
                ),
                {"i": incident_id},
            ).scalars()
        )


def test_oncall_runs_the_rules_runbook_from_the_incident(
    app_env: None, seeded_engine: Engine
) -> None:
    iid = declare_incident(
        seeded_engine, f"DB unreachable {secrets.token_hex(3)}", rule_id="database_unreachable"
    )
    other = declare_incident(seeded_engine, f"Unrelated {secrets.token_hex(3)}")
    at = _open(new_app(sign_in(seeded_engine, Role.ONCALL)), iid)
    labels = [e.label for e in at.expander]
    assert "Runbook: Database Connection Issues (named by the alert rule)" in labels, labels
    assert at.selectbox(key=f"incidents.runbook.{iid}").value == "db_connections"
    key = f"incidents.rb.{iid}.db_connections"
    at.button(key=f"{key}.preview").click().run()
    assert not at.exception, at.exception
    # the preview is escaped Markdown: "for incident \\#7"
    previews = [w.value for w in at.warning if "Dry run" in w.value]
    assert len(previews) == 1 and f"for incident \\#{iid} " in previews[0], previews
    at.button(key=f"{key}.confirm").click().run()
    assert not at.exception, at.exception
    assert any("started" in s.value for s in at.success), [e.value for e in at.error]
    with seeded_engine.connect() as conn:
        run_id, linked = conn.execute(
            text("SELECT id, incident_id FROM runbook_runs ORDER BY id DESC LIMIT 1")
        ).one()
    assert linked == iid
    assert wait_for(run_id, seeded_engine, timeout_s=generous(60)) == "succeeded"
    entries = _runbook_timeline(seeded_engine, iid)
    assert [f"(run #{run_id})" in e for e in entries] == [True, True], entries
    assert "started on postgresql" in entries[0] and "succeeded" in entries[1]
    assert _runbook_timeline(seeded_engine, other) == []  # explicit link, not "every open one"
    at.run()
    assert not at.exception, at.exception
    links = [str(getattr(p, "label", "")) for p in at.get("page_link")]
    assert any(
        x.startswith(f"Run \\#{run_id}")
        and "Database Connection Issues on postgresql, succeeded" in x
        for x in links
    ), links


def test_an_incident_declared_by_hand_offers_the_catalogue(
    app_env: None, seeded_engine: Engine
) -> None:
    iid = declare_incident(seeded_engine, f"By hand {secrets.token_hex(3)}")
    at = _open(new_app(sign_in(seeded_engine, Role.ONCALL)), iid)
    assert "Runbooks for this incident" in [e.label for e in at.expander]
    box = at.selectbox(key=f"incidents.runbook.{iid}")
    assert {"Service Restart", "Database Connection Issues", "High Error Rate"} <= set(box.options)
    assert box.value == next(iter(catalogue()))  # the catalogue's first: no rule names one
    box.set_value("service_restart").run()
    assert not at.exception, at.exception
    assert not at.button(key=f"incidents.rb.{iid}.service_restart.preview").disabled


def test_a_manager_sees_the_incidents_runbook_but_cannot_press(
    app_env: None, seeded_engine: Engine
) -> None:
    iid = declare_incident(
        seeded_engine, f"Core down {secrets.token_hex(3)}", rule_id="service_down"
    )
    at = _open(new_app(sign_in(seeded_engine, Role.MANAGER)), iid)
    assert "Runbook: Service Restart (named by the alert rule)" in [e.label for e in at.expander]
    assert at.button(key=f"incidents.rb.{iid}.service_restart.preview").disabled
    assert any("needs the on-call or admin role" in c.value for c in at.caption)
