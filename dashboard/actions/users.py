"""User management: add, list, disable / enable, set roles, reset passwords, unlock; and each
user's change of their own password.

One implementation for the CLI (`orca-dashboard users ...`) and the Users page. Every change is
audited with before/after (never a password or hash). Disabling a user or resetting a password
ends all their sessions on the server; changing one's own password ends the others. The last
enabled administrator cannot be disabled or lose the admin role, and nobody disables their own
account, so the console can never lock itself out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from dashboard.actions.base import (
    ActionResult,
    Actor,
    audit_change,
    authorize,
    clean_reason,
    now_utc,
    run_authorised,
)
from dashboard.actions.passwords import hash_password, password_problem, verify_password
from dashboard.actions.signin import count_wrong_password
from dashboard.db.auth_store import (
    UserRow,
    enabled_admins,
    get_user,
    insert_user,
    last_sign_ins,
    revoke_user_sessions,
    update_user,
)
from dashboard.db.auth_store import list_users as _select_users
from dashboard.domain.permissions import Role, known_roles, parse_roles

log = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")


@dataclass(frozen=True)
class UserInfo:
    """A user as the users page shows it (no password hash)."""

    username: str
    display_name: str
    email: str | None
    roles: tuple[Role, ...]
    disabled: bool
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime
    last_sign_in: datetime | None = None

    def locked(self, now: datetime) -> bool:
        """True while a lock from failed sign-ins is in force at ``now``."""
        return self.locked_until is not None and self.locked_until > now


def _info(row: UserRow, last_sign_in: datetime | None = None) -> UserInfo:
    return UserInfo(
        username=row.username,
        display_name=row.display_name,
        email=row.email,
        roles=known_roles(row.roles),
        disabled=row.disabled,
        locked_until=row.locked_until,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_sign_in=last_sign_in,
    )


def _public(row: UserRow) -> dict[str, Any]:
    """What an audit row may say about a user."""
    return {
        "username": row.username,
        "display_name": row.display_name,
        "email": row.email,
        "roles": list(row.roles),
        "disabled": row.disabled,
    }


def username_problem(username: object) -> str | None:
    if not isinstance(username, str) or not USERNAME_RE.match(username):
        return (
            "A user name has 2 to 64 characters: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter."
        )
    return None


def _roles(roles: Iterable[str | Role]) -> tuple[Role, ...] | str:
    if isinstance(roles, str):
        roles = [r for r in roles.split(",") if r.strip()]
    try:
        parsed = parse_roles(roles)
    except ValueError as exc:
        return str(exc).capitalize() + "."
    if not parsed:
        return "Give the user at least one role: " + ", ".join(r.value for r in Role) + "."
    return parsed


def _run(
    engine: Engine,
    actor: Actor,
    action: str,
    username: str,
    body: Callable[[Connection, tuple[Role, ...]], ActionResult],
    *,
    reason: str | None = None,
) -> ActionResult:
    """A user change through the one authorised-transaction helper."""
    return run_authorised(
        engine,
        actor,
        action,
        body,
        target=("user", str(username)[:64]),
        reason=reason,
        integrity_message=f"A user named {username} already exists.",
    )


def _audit(
    conn: Connection,
    actor: Actor,
    roles: tuple[Role, ...],
    action: str,
    username: str,
    **fields: Any,
) -> None:
    audit_change(conn, actor, roles, action, target=("user", username), **fields)


def add_user(
    engine: Engine,
    actor: Actor,
    username: str,
    *,
    password: str,
    roles: Iterable[str | Role],
    display_name: str | None = None,
    email: str | None = None,
) -> ActionResult:
    """Create a user with a bcrypt-hashed password and at least one role."""
    name = username.strip().lower() if isinstance(username, str) else ""

    def body(conn: Connection, actor_roles: tuple[Role, ...]) -> ActionResult:
        problem = username_problem(name)
        if problem:
            return ActionResult("invalid", problem)
        chosen = _roles(roles)
        if isinstance(chosen, str):
            return ActionResult("invalid", chosen)
        problem = password_problem(password, username=name)
        if problem:
            return ActionResult("invalid", problem)
        shown = (display_name or "").strip()
        if len(shown) > 200:
            return ActionResult("invalid", "The display name may have at most 200 characters.")
        mail = (email or "").strip() or None
        if mail is not None and not EMAIL_RE.match(mail):
            return ActionResult("invalid", "The e-mail address does not look right.")
        if get_user(conn, name) is not None:
            return ActionResult("invalid", f"A user named {name} already exists.")
        insert_user(
            conn,
            username=name,
            display_name=shown,
            email=mail,
            password_hash=hash_password(password),
            roles=[r.value for r in chosen],
        )
        created = get_user(conn, name)
        assert created is not None
        _audit(conn, actor, actor_roles, "user.add", name, before=None, after=_public(created))
        return ActionResult(
            "changed", f"User {name} added with roles {', '.join(chosen)}.", count=1
        )

    return _run(engine, actor, "user.add", name, body)


def list_users(engine: Engine, actor: Actor) -> list[UserInfo]:
    """Every user, by name. Needs manage_users (raises ActionDenied otherwise, audited)."""
    with engine.connect() as conn:
        try:
            authorize(conn, actor, "user.list")
        finally:
            conn.commit()
        last = last_sign_ins(conn)
        return [_info(row, last.get(row.username)) for row in _select_users(conn)]


def _last_admin(conn: Connection, username: str) -> bool:
    """True when ``username`` is the only enabled admin (rows locked until commit)."""
    admins = enabled_admins(conn, for_update=True)
    return admins == [username]


def disable_user(
    engine: Engine,
    actor: Actor,
    username: str,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> ActionResult:
    """Disable a user and end all their sessions now (old cookies are refused)."""
    moment = now_utc(now)

    def body(conn: Connection, actor_roles: tuple[Role, ...]) -> ActionResult:
        try:
            why = clean_reason(reason, required=False)
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        user = get_user(conn, username, for_update=True)
        if user is None:
            return ActionResult("not_found", f"There is no user named {username}.")
        if user.disabled:
            return ActionResult("noop", f"User {username} is already disabled; nothing changed.")
        if user.username == actor.username:
            return ActionResult(
                "invalid",
                "You cannot disable your own account; ask another administrator to do it.",
            )
        if Role.ADMIN.value in user.roles and _last_admin(conn, username):
            return ActionResult(
                "invalid", f"{username} is the last enabled administrator and cannot be disabled."
            )
        update_user(conn, username, disabled=True, sessions_valid_after=moment)
        ended = revoke_user_sessions(conn, username, now=moment, reason="disabled")
        after = {**_public(user), "disabled": True}
        _audit(
            conn,
            actor,
            actor_roles,
            "user.disable",
            username,
            before=_public(user),
            after=after,
            reason=why,
            detail=f"{ended} session(s) ended",
        )
        return ActionResult(
            "changed", f"User {username} disabled; {ended} session(s) ended.", count=1
        )

    return _run(engine, actor, "user.disable", username, body, reason=reason)


def enable_user(engine: Engine, actor: Actor, username: str) -> ActionResult:
    """Enable a disabled user again (their old sessions stay ended)."""

    def body(conn: Connection, actor_roles: tuple[Role, ...]) -> ActionResult:
        user = get_user(conn, username, for_update=True)
        if user is None:
            return ActionResult("not_found", f"There is no user named {username}.")
        if not user.disabled:
            return ActionResult("noop", f"User {username} is already enabled; nothing changed.")
        update_user(conn, username, disabled=False, failed_logins=[], locked_until=None)
        _audit(
            conn,
            actor,
            actor_roles,
            "user.enable",
            username,
            before=_public(user),
            after={**_public(user), "disabled": False},
        )
        return ActionResult("changed", f"User {username} enabled.", count=1)

    return _run(engine, actor, "user.enable", username, body)


def set_roles(
    engine: Engine, actor: Actor, username: str, roles: Iterable[str | Role]
) -> ActionResult:
    """Replace a user's roles (at least one). Takes effect on their next page load."""

    def body(conn: Connection, actor_roles: tuple[Role, ...]) -> ActionResult:
        chosen = _roles(roles)
        if isinstance(chosen, str):
            return ActionResult("invalid", chosen)
        user = get_user(conn, username, for_update=True)
        if user is None:
            return ActionResult("not_found", f"There is no user named {username}.")
        new = [r.value for r in chosen]
        if sorted(new) == sorted(user.roles):
            return ActionResult(
                "noop", f"User {username} already has exactly these roles; nothing changed."
            )
        if (
            Role.ADMIN.value in user.roles
            and Role.ADMIN not in chosen
            and not user.disabled
            and _last_admin(conn, username)
        ):
            return ActionResult(
                "invalid", f"{username} is the last enabled administrator and must stay admin."
            )
        update_user(conn, username, roles=new)
        _audit(
            conn,
            actor,
            actor_roles,
            "user.set_roles",
            username,
            before={"roles": list(user.roles)},
            after={"roles": new},
        )
        return ActionResult("changed", f"User {username} now has roles {', '.join(new)}.", count=1)

    return _run(engine, actor, "user.set_roles", username, body)


def set_email(engine: Engine, actor: Actor, username: str, email: str | None) -> ActionResult:
    """Set (or, with an empty value, clear) a user's e-mail address: where the monthly
    report reaches a manager and where a page reaches the person on call."""
    mail = (email or "").strip() or None

    def body(conn: Connection, actor_roles: tuple[Role, ...]) -> ActionResult:
        if mail is not None and (len(mail) > 320 or not EMAIL_RE.match(mail)):
            return ActionResult("invalid", "The e-mail address does not look right.")
        user = get_user(conn, username, for_update=True)
        if user is None:
            return ActionResult("not_found", f"There is no user named {username}.")
        if (user.email or None) == mail:
            return ActionResult(
                "noop", f"User {username} already has this e-mail address; nothing changed."
            )
        update_user(conn, username, email=mail)
        _audit(
            conn,
            actor,
            actor_roles,
            "user.set_email",
            username,
            before={"email": user.email},
            after={"email": mail},
        )
        if mail is None:
            return ActionResult("changed", f"User {username} has no e-mail address now.", count=1)
        return ActionResult("changed", f"User {username} now has e-mail {mail}.", count=1)

    return _run(engine, actor, "user.set_email", username, body)


def reset_password(
    engine: Engine,
    actor: Actor,
    username: str,
    password: str,
    *,
    now: datetime | None = None,
) -> ActionResult:
    """Set a new password, clear any lock, and end the user's sessions."""
    moment = now_utc(now)

    def body(conn: Connection, actor_roles: tuple[Role, ...]) -> ActionResult:
        user = get_user(conn, username, for_update=True)
        if user is None:
            return ActionResult("not_found", f"There is no user named {username}.")
        problem = password_problem(password, username=username)
        if problem:
            return ActionResult("invalid", problem)
        update_user(
            conn,
            username,
            password_hash=hash_password(password),
            password_changed_at=moment,
            failed_logins=[],
            locked_until=None,
            sessions_valid_after=moment,
        )
        ended = revoke_user_sessions(conn, username, now=moment, reason="password reset")
        _audit(
            conn,
            actor,
            actor_roles,
            "user.reset_password",
            username,
            before=None,
            after=None,
            detail=f"{ended} session(s) ended",
        )
        return ActionResult(
            "changed", f"Password of {username} reset; {ended} session(s) ended.", count=1
        )

    return _run(engine, actor, "user.reset_password", username, body)


def unlock_user(engine: Engine, actor: Actor, username: str) -> ActionResult:
    """Lift a lock from failed sign-ins now and forget the failures (sessions untouched)."""

    def body(conn: Connection, actor_roles: tuple[Role, ...]) -> ActionResult:
        user = get_user(conn, username, for_update=True)
        if user is None:
            return ActionResult("not_found", f"There is no user named {username}.")
        moment = now_utc()
        if (user.locked_until is None or user.locked_until <= moment) and not user.failed_logins:
            return ActionResult("noop", f"User {username} is not locked; nothing changed.")
        update_user(conn, username, failed_logins=[], locked_until=None)
        _audit(
            conn,
            actor,
            actor_roles,
            "user.unlock",
            username,
            before={"locked_until": user.locked_until, "failed_logins": len(user.failed_logins)},
            after={"locked_until": None, "failed_logins": 0},
        )
        return ActionResult("changed", f"User {username} unlocked.", count=1)

    return _run(engine, actor, "user.unlock", username, body)


WRONG_CURRENT_PASSWORD = "The current password is not right; nothing was changed."  # noqa: S105


def change_own_password(
    engine: Engine,
    actor: Actor,
    *,
    current: str,
    new: str,
    now: datetime | None = None,
) -> ActionResult:
    """The signed-in user sets a new password (the current one required).

    Every other session of theirs ends; the one they are using stays. A wrong current password
    is audited as a failure and changes nothing. Only a signed-in user (a live session) can
    do this: the CLI has ``reset-password`` instead.
    """
    moment = now_utc(now)
    if actor.session_id is None:
        return ActionResult("invalid", "Only a signed-in user can change their own password.")
    with engine.connect() as conn:
        stored = get_user(conn, actor.username)
    # bcrypt outside the transaction, as at sign-in: no row lock held for its ~0.25 s.
    current_ok = verify_password(current, stored.password_hash if stored else None)

    def body(conn: Connection, actor_roles: tuple[Role, ...]) -> ActionResult:
        user = get_user(conn, actor.username, for_update=True)
        if user is None:
            return ActionResult("not_found", "Your account no longer exists.")
        locked = user.locked_until is not None and user.locked_until > moment
        if locked or not current_ok or stored is None or stored.password_hash != user.password_hash:
            # Committed with the (empty) change: the failure counts toward the user's lock.
            count_wrong_password(conn, user, now=moment)
            return ActionResult("invalid", WRONG_CURRENT_PASSWORD)
        problem = password_problem(new, username=user.username)
        if problem:
            return ActionResult("invalid", problem)
        if new == current:
            return ActionResult("invalid", "The new password must differ from the current one.")
        update_user(
            conn, user.username, password_hash=hash_password(new), password_changed_at=moment
        )
        ended = revoke_user_sessions(
            conn, user.username, now=moment, reason="password changed", keep=actor.session_id
        )
        _audit(
            conn,
            actor,
            actor_roles,
            "user.change_password",
            user.username,
            detail=f"{ended} other session(s) ended",
        )
        return ActionResult(
            "changed",
            f"Your password is changed; {ended} other session(s) ended. This one stays signed in.",
            count=1,
        )

    return _run(engine, actor, "user.change_password", actor.username, body)
