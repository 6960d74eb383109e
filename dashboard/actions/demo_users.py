"""The demo users of `make run`: one per role with a random password, in development only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from dashboard.actions.base import system_actor
from dashboard.actions.oncall import save_rotation
from dashboard.actions.passwords import generate_password
from dashboard.actions.users import add_user
from dashboard.data.leader import release_lock, wait_for_lock
from dashboard.db.auth_store import count_users
from dashboard.domain.oncall import Rotation
from dashboard.domain.permissions import Role
from dashboard.settings import Settings

DEMO_ROLES: tuple[Role, ...] = (Role.MANAGER, Role.OPERATOR, Role.ONCALL, Role.ADMIN)
_DEMO_LOCK = 7_242_001  # advisory lock id: two `up`s never both create demo users


def ensure_demo_users(engine: Engine, settings: Settings) -> list[tuple[str, str, tuple[str, ...]]]:
    """In development, on an empty users table, create one user per role with a random password.

    Returns (username, password, roles) for each user created, so the caller can show the
    passwords once; returns [] in production or when any user exists. The users are made by
    :func:`dashboard.actions.users.add_user` (validated and audited like any other); a
    session-level advisory lock, held on its own connection while they are made, keeps a
    second `up` from making them too.

    With the users comes an on-call rotation made of them (:func:`seed_demo_rotation`), so a
    fresh `make run` shows who is on call and escalation has someone to page.
    """
    if settings.env != "development":
        return []
    created: list[tuple[str, str, tuple[str, ...]]] = []
    actor = system_actor("system:demo-users")
    with engine.connect() as lock:
        wait_for_lock(lock, lock_id=_DEMO_LOCK)
        try:
            if count_users(lock) > 0:
                return []
            lock.commit()  # end the snapshot transaction; the session-level lock stays held
            for role in DEMO_ROLES:
                password = generate_password(username=role.value)
                result = add_user(
                    engine,
                    actor,
                    role.value,
                    password=password,
                    roles=[role],
                    display_name=f"Demo {role.value}",
                )
                if not result.ok:
                    raise RuntimeError(f"demo user {role.value} not created: {result.message}")
                created.append((role.value, password, (role.value,)))
            seed_demo_rotation(engine)
        finally:
            release_lock(lock, lock_id=_DEMO_LOCK)
    return created


def seed_demo_rotation(engine: Engine) -> bool:
    """The demo rotation: oncall primary, admin secondary, manager as manager, weekly hand-over
    on the default day and hour (UTC). Made through the on-call action (validated, audited) and
    only when no rotation exists yet (version 0): a rotation someone saved is never replaced."""
    default = Rotation()
    result = save_rotation(
        engine,
        system_actor("system:demo-users"),
        primary=[Role.ONCALL.value],
        secondary=[Role.ADMIN.value],
        manager=[Role.MANAGER.value],
        handover_weekday=default.handover_weekday,
        handover_hour=default.handover_hour,
        timezone=default.timezone,
        anchor=default.anchor,
        expected_version=0,
    )
    return result.outcome == "changed"


def print_demo_users_once(
    engine: Engine, settings: Settings, echo: Callable[[str], Any] = print
) -> int:
    """For `make run`: create the demo users if due and print their passwords (only now)."""
    created = ensure_demo_users(engine, settings)
    if created:
        width = max(len(u) for u, _, _ in created)
        echo("Demo users (development only; passwords are shown this once and stored hashed):")
        for username, password, roles in created:
            echo(f"  {username:<{width}}  {password}  ({', '.join(roles)})")
        echo("Change one with `orca-dashboard users reset-password NAME`.")
    elif settings.env == "production":
        with engine.connect() as conn:
            empty = count_users(conn) == 0
        if empty:
            echo(
                "No users yet. Create the first administrator with "
                "`orca-dashboard users add NAME --roles admin`."
            )
    return len(created)
