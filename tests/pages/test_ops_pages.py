"""Backups, Doctor and Checklists pages under AppTest: on-call presses, a manager only reads."""

from __future__ import annotations

from sqlalchemy import Engine, text

from dashboard.domain.permissions import Role
from tests.pages.conftest import new_app, sign_in


def _texts(at: object) -> str:
    parts = []
    for kind in ("markdown", "caption", "success", "error", "warning", "info"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def test_oncall_backs_up_from_the_backups_page(app_env: None, seeded_engine: Engine) -> None:
    at = new_app(sign_in(seeded_engine, Role.ONCALL))
    at.switch_page("pages/backups.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Backups"
    at.button(key="backups.backup.preview").click().run()
    assert any("Take a backup now" in w.value for w in at.warning)
    at.button(key="backups.backup.confirm").click().run(timeout=240)
    assert not at.exception, at.exception
    assert any("done" in s.value and "MB" in s.value for s in at.success), _texts(at)
    with seeded_engine.connect() as conn:
        last = conn.execute(
            text("SELECT status, requested_by FROM backups ORDER BY id DESC LIMIT 1")
        ).one()
    assert last.status == "ok"
    labels = [m.label for m in at.metric]
    assert labels[:2] == ["Last good backup", "Size"]


def test_manager_sees_backups_but_cannot_press(app_env: None, seeded_engine: Engine) -> None:
    at = new_app(sign_in(seeded_engine, Role.MANAGER))
    at.switch_page("pages/backups.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Backups"
    off = [b for b in at.button if b.key == "backups.backup.off"]
    assert off and off[0].disabled
    assert not [b for b in at.button if b.key == "backups.backup.preview"]


def test_doctor_page_lists_the_checks(app_env: None, seeded_engine: Engine) -> None:
    at = new_app(sign_in(seeded_engine, Role.MANAGER))
    at.switch_page("pages/doctor.py").run(timeout=60)
    assert not at.exception, at.exception
    shown = _texts(at)
    for name in ("postgresql", "migrations", "redis", "pgvector", "disk", "backup", "tls"):
        assert f"**{name}**" in shown, name


def test_checklist_sign_off_by_oncall_not_by_manager(app_env: None, seeded_engine: Engine) -> None:
    manager = new_app(sign_in(seeded_engine, Role.MANAGER))
    manager.switch_page("pages/checklists.py").run(timeout=60)
    assert not manager.exception, manager.exception
    assert [b for b in manager.button if b.key == "checklists.weekly.trust_trends.off"]
    at = new_app(sign_in(seeded_engine, Role.ONCALL))
    at.switch_page("pages/checklists.py").run(timeout=60)
    assert not at.exception, at.exception
    at.button(key="checklists.weekly.trust_trends.preview").click().run()
    at.button(key="checklists.weekly.trust_trends.confirm").click().run()
    assert not at.exception, at.exception
    with seeded_engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT signed_by FROM checklist_signoffs WHERE checklist = 'weekly' "
                "AND item = 'trust_trends' ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert row.signed_by.startswith("page")


def test_troubleshooting_flows_render_their_data(app_env: None, seeded_engine: Engine) -> None:
    at = new_app(sign_in(seeded_engine, Role.MANAGER))
    at.switch_page("pages/troubleshooting.py").run(timeout=90)
    assert not at.exception, at.exception
    shown = _texts(at)
    assert "Step 1. Is ORCA Core answering" in shown
    assert "Which endpoints are slow" in shown
    # The suite's PostgreSQL has no pg_stat_statements: the page says so plainly.
    assert "pg\\_stat\\_statements is not installed" in shown or "slowest statements" in shown
    assert "Which policies were violated" in shown
    assert not at.error, [e.value for e in at.error]
