"""`make run`'s demo users come with an on-call rotation made of them, so a fresh console says
who is on call and escalation pages real people; a rotation someone saved is never replaced."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from dashboard.actions.base import system_actor
from dashboard.actions.demo_users import ensure_demo_users, seed_demo_rotation
from dashboard.actions.oncall import save_rotation
from dashboard.data.notify_store import on_call_usernames, resolve_person
from dashboard.data.oncall import get_rotation
from dashboard.domain.oncall import Rotation
from dashboard.settings import Settings


def test_demo_users_bring_a_rotation_that_escalation_uses(
    empty_users_engine: Engine, tmp_path: Path
) -> None:
    created = ensure_demo_users(empty_users_engine, Settings(_env_file=None, state_dir=tmp_path))
    assert len(created) == 4
    now = datetime.now(UTC)
    with empty_users_engine.connect() as conn:
        stored = get_rotation(conn)
        assert stored is not None and stored.version == 1
        assert stored.rotation.primary == ("oncall",)
        assert stored.rotation.secondary == ("admin",)
        assert stored.rotation.manager == ("manager",)
        # What the header and the notifier read: the escalation chain is the demo users.
        assert on_call_usernames(conn, at=now) == {
            "oncall": "oncall",
            "secondary": "admin",
            "manager": "manager",
        }
        for audience, user in (
            ("oncall", "oncall"),
            ("secondary", "admin"),
            ("manager", "manager"),
        ):
            person = resolve_person(conn, audience=audience, at=now)
            assert person is not None and person.username == user
        audited = conn.execute(
            text("SELECT actor FROM audit_log WHERE action = 'oncall.edit_rotation'")
        ).scalars()
        assert list(audited) == ["system:demo-users"]


def test_a_saved_rotation_is_never_replaced(empty_users_engine: Engine, tmp_path: Path) -> None:
    ensure_demo_users(empty_users_engine, Settings(_env_file=None, state_dir=tmp_path))
    mine = save_rotation(
        empty_users_engine,
        system_actor("test:admin"),
        primary=["admin"],
        secondary=["oncall"],
        manager=["manager"],
        handover_weekday=2,
        handover_hour=10,
        timezone="UTC",
        anchor=Rotation().anchor,
        expected_version=1,
    )
    assert mine.outcome == "changed", mine
    assert seed_demo_rotation(empty_users_engine) is False
    with empty_users_engine.connect() as conn:
        stored = get_rotation(conn)
    assert stored is not None and stored.rotation.primary == ("admin",) and stored.version == 2
