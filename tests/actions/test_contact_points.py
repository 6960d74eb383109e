"""Contact point actions: validation, secrets kept out of audit rows, version guard, settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text

from dashboard.actions import contact_points as cp
from dashboard.actions.base import cli_actor
from dashboard.data import notify_store as store
from dashboard.domain.permissions import Role
from dashboard.settings import reset_settings
from tests.actions.conftest import LoggedIn, audit_rows, unique
from tests.notify.peers import http_peer

SECRET = "https://hooks.example.test/services/T1/B2/VerySecretToken9876"


def _id(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT id FROM contact_points WHERE name = :n"), {"n": name}).one()[
                0
            ]
        )


def _point(engine: Engine, cp_id: int) -> store.ContactPoint:
    with engine.connect() as conn:
        found = store.get_contact_point(conn, contact_point_id=cp_id)
    assert found is not None
    return found


def test_add_edit_disable_keep_the_secret_out_of_the_audit(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    admin = signed_in(Role.ADMIN)
    name = unique("slack ")
    added = cp.add_contact_point(
        auth_engine, admin.actor, name=name, kind="slack", audiences=["broadcast"], secret=SECRET
    )
    assert added.outcome == "changed", added
    cp_id = _id(auth_engine, name)
    point = _point(auth_engine, cp_id)
    assert point.secret_hint == "••••9876"
    with auth_engine.connect() as conn:
        assert store.get_contact_point_secret(conn, contact_point_id=cp_id) == SECRET

    # A blank secret on edit keeps the stored one.
    edited = cp.edit_contact_point(
        auth_engine,
        admin.actor,
        cp_id,
        expected_version=1,
        name=name,
        audiences=["broadcast", "oncall"],
    )
    assert edited.outcome == "changed", edited
    with auth_engine.connect() as conn:
        assert store.get_contact_point_secret(conn, contact_point_id=cp_id) == SECRET
    # The version the admin saw is gone: a second edit from the old view is refused.
    stale = cp.edit_contact_point(
        auth_engine, admin.actor, cp_id, expected_version=1, name=name, audiences=["oncall"]
    )
    assert stale.outcome == "conflict"
    assert _point(auth_engine, cp_id).audiences == ("oncall", "broadcast")

    assert (
        cp.set_contact_point_enabled(auth_engine, admin.actor, cp_id, enabled=False).outcome
        == "changed"
    )
    assert (
        cp.set_contact_point_enabled(auth_engine, admin.actor, cp_id, enabled=False).outcome
        == "noop"
    )

    trail = [
        r for r in audit_rows(auth_engine, actor=admin.username) if r["target_id"] == str(cp_id)
    ]
    assert [r["action"] for r in trail] == [
        "contact_point.add",
        "contact_point.edit",
        "contact_point.disable",
    ]
    dumped = json.dumps([{k: str(v) for k, v in r.items()} for r in trail], ensure_ascii=False)
    assert "VerySecretToken9876" not in dumped and "hooks.example.test" not in dumped
    assert "••••9876" in dumped


def test_bad_input_is_refused_in_words(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    admin = signed_in(Role.ADMIN)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "webhook", "secret": "ftp://x"}, "http"),
        ({"kind": "pagerduty", "secret": ""}, "routing"),
        ({"kind": "email", "config": {"host": ""}}, "SMTP host"),
        ({"kind": "email", "config": {"host": "mail", "to": "not an address"}}, "e-mail"),
        ({"kind": "slack", "secret": SECRET, "audiences": []}, "audience"),
        ({"kind": "sms", "secret": "x"}, "kind"),
    ]
    for fields, words in cases:
        args: dict[str, Any] = {"name": unique("bad "), "audiences": ["oncall"]}
        args.update(fields)
        result = cp.add_contact_point(auth_engine, admin.actor, **args)
        assert result.outcome == "invalid", (fields, result)
        assert words.lower() in result.message.lower(), (fields, result.message)
    duplicate = unique("dup ")
    for expected in ("changed", "invalid"):
        result = cp.add_contact_point(
            auth_engine,
            admin.actor,
            name=duplicate,
            kind="webhook",
            audiences=["oncall"],
            secret=SECRET,
        )
        assert result.outcome == expected
    assert "exists already" in result.message


def test_settings_managed_points_are_read_only(auth_engine: Engine) -> None:
    name = unique("from settings ")
    with auth_engine.begin() as conn:
        cp_id = store.insert_contact_point(
            conn,
            name=name,
            kind="webhook",
            audiences=["oncall"],
            config={},
            secret=SECRET,
            secret_hint="••••9876",
            by="settings",
            now=datetime.now(UTC),
            managed_by="settings",
        )
    result = cp.set_contact_point_enabled(auth_engine, cli_actor(), cp_id, enabled=False)
    assert result.outcome == "invalid" and "settings" in result.message


def test_a_failed_test_send_is_logged_and_reported(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn]
) -> None:
    admin = signed_in(Role.ADMIN)
    with http_peer(fail_first=1, fail_status=500) as peer:
        name = unique("hook ")
        cp.add_contact_point(
            auth_engine,
            admin.actor,
            name=name,
            kind="webhook",
            audiences=["oncall"],
            secret=peer.url + "/hook",
        )
        cp_id = _id(auth_engine, name)
        failed = cp.test_contact_point(auth_engine, admin.actor, cp_id)
        assert failed.outcome == "error" and "HTTP 500" in failed.message
        ok = cp.test_contact_point(auth_engine, admin.actor, cp_id)
        assert ok.outcome == "changed"
        assert len(peer.received) == 1
    with auth_engine.connect() as conn:
        log = store.list_delivery_log(conn, limit=1000)
    mine = log[log["contact_point"] == name]
    assert sorted(mine["ok"].tolist()) == [False, True]


def test_without_a_usable_secret_key_nothing_is_stored_and_the_admin_is_told(
    auth_engine: Engine, signed_in: Callable[..., LoggedIn], monkeypatch: Any
) -> None:
    admin = signed_in(Role.ADMIN)
    monkeypatch.setenv("ORCA_ENV", "production")
    monkeypatch.delenv("ORCA_SECRET_KEY", raising=False)
    reset_settings()
    try:
        name = unique("nokey ")
        result = cp.add_contact_point(
            auth_engine,
            admin.actor,
            name=name,
            kind="slack",
            audiences=["broadcast"],
            secret=SECRET,
        )
    finally:
        monkeypatch.undo()
        reset_settings()
    assert result.outcome == "error" and "ORCA_SECRET_KEY" in result.message, result
    with auth_engine.connect() as conn:
        found = conn.execute(
            text("SELECT count(*) FROM contact_points WHERE name = :n"), {"n": name}
        )
        assert found.scalar_one() == 0
