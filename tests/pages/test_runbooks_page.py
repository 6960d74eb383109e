"""The Runbooks page: on-call runs a runbook through dry run -> confirm and sees its steps;
a manager sees the catalogue and the runs but cannot press."""

from __future__ import annotations

from sqlalchemy import Engine, select

from dashboard.db.runbook_models import RunbookRun
from dashboard.domain.permissions import Role
from dashboard.runbooks.engine import wait_for
from tests.pages.conftest import new_app, sign_in

KEY = "runbooks.db_connections"


def test_oncall_dry_runs_confirms_and_sees_the_run(app_env: None, seeded_engine: Engine) -> None:
    at = new_app(sign_in(seeded_engine, Role.ONCALL))
    at.switch_page("pages/runbooks.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Runbooks"
    with seeded_engine.connect() as conn:
        before = conn.execute(select(RunbookRun.id)).all()
    at.button(key=f"{KEY}.preview").click().run()
    assert not at.exception, at.exception
    assert any("Database Connection Issues on postgresql" in w.value for w in at.warning)
    plans = [d.value for d in at.dataframe if "will do" in d.value.columns]
    assert plans and "pg_terminate_backend" in " ".join(plans[0]["will do"])
    with seeded_engine.connect() as conn:
        assert conn.execute(select(RunbookRun.id)).all() == before  # the dry run ran nothing
    at.button(key=f"{KEY}.confirm").click().run()
    assert not at.exception, at.exception
    assert any("started" in s.value for s in at.success), [s.value for s in at.success]
    run_id = int(at.query_params["run"][0])
    assert wait_for(run_id, seeded_engine, timeout_s=60) == "succeeded"
    at.run()
    assert any(f"Run #{run_id}: Database Connection Issues" in h.value for h in at.subheader)
    assert any("Every step passed" in s.value for s in at.success)
    codes = " ".join(c.value for c in at.code)
    assert "ended 0 of 0 sessions" in codes and "password configured" in codes


def test_a_manager_sees_but_cannot_press(app_env: None, seeded_engine: Engine) -> None:
    at = new_app(sign_in(seeded_engine, Role.MANAGER))
    at.switch_page("pages/runbooks.py").run()
    assert not at.exception, at.exception
    buttons = {b.key: b for b in at.button}
    for runbook in ("service_restart", "db_connections", "high_error_rate"):
        assert buttons[f"runbooks.{runbook}.preview"].disabled
    assert any("needs the on-call or admin role" in c.value for c in at.caption)
