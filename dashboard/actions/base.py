"""Who is acting and may they: the Actor, action results, and the server-side permission check.

An :class:`Actor` is only worth what the database says about it. Every action re-reads the
actor's session and roles from PostgreSQL (:func:`authorize`), so roles or names held in
Streamlit session state, or a hand-built Actor, grant nothing. Local trusted callers (the CLI,
`make run`) get actors from :func:`cli_actor` / :func:`system_actor`, which carry a proof that
only this process can produce.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from dashboard import telemetry
from dashboard.actions.sessions import live_session
from dashboard.data.cache import bump_topics
from dashboard.db.auth_store import AuditRecord, record_audit
from dashboard.domain.permissions import Role, allowed, permission_for
from dashboard.integrations.redis_client import make_redis
from dashboard.settings import get_settings

log = logging.getLogger(__name__)

Outcome = Literal["changed", "noop", "denied", "conflict", "not_found", "invalid", "error"]

MAX_REASON = 1000

DENIED_MESSAGE = "You are not allowed to do this. Ask an administrator if you need access."
SESSION_ENDED_MESSAGE = "Your session has ended. Sign in again."
ERROR_MESSAGE = "The database did not confirm the change, so nothing was changed. Try again."

# Proof for actors made in this process (CLI, startup). Never stored, never leaves the process.
_LOCAL_SECRET = secrets.token_bytes(32)


def _local_proof(username: str) -> str:
    return hmac.new(_LOCAL_SECRET, username.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Actor:
    """Someone acting: a signed-in user (session_id set) or a local trusted caller (proof set).

    ``session_id`` is the sha256 of the session token, not the token. ``roles`` are what the
    database said when the actor was built; actions re-read them before deciding anything.
    """

    username: str
    roles: tuple[Role, ...]
    session_id: str | None = None
    proof: str = field(default="", repr=False, compare=False)


def cli_actor() -> Actor:
    """The actor for `orca-dashboard users ...`: ``cli:<os user>`` with admin rights."""
    try:
        who = getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        who = "unknown"
    return system_actor(f"cli:{who}")


def system_actor(name: str, roles: tuple[Role, ...] = (Role.ADMIN,)) -> Actor:
    """An actor for trusted code in this process (startup, CLI). Names should say where from."""
    return Actor(username=name, roles=roles, session_id=None, proof=_local_proof(name))


@dataclass(frozen=True)
class ActionResult:
    """What happened, in words for the user. ``count`` is how many things changed."""

    outcome: Outcome
    message: str
    count: int = 0

    @property
    def ok(self) -> bool:
        """True when the request was carried out or was already in effect."""
        return self.outcome in ("changed", "noop")


class ActionDenied(Exception):
    """The actor may not do this (or is no longer signed in). ``str()`` is the plain message."""

    def __init__(self, message: str = DENIED_MESSAGE, *, session_ended: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.session_ended = session_ended


def now_utc(now: datetime | None = None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    return now


def live_roles(conn: Connection, actor: Actor, *, now: datetime | None = None) -> tuple[Role, ...]:
    """The actor's roles as the database has them now; ActionDenied if the session is not live.

    A local actor must carry this process's proof; a session actor must name a session of
    the same user that passes :func:`dashboard.actions.sessions.live_session`.
    """
    if not isinstance(actor, Actor):
        raise ActionDenied(SESSION_ENDED_MESSAGE, session_ended=True)
    if actor.session_id is None:
        if actor.proof and hmac.compare_digest(actor.proof, _local_proof(actor.username)):
            return tuple(actor.roles)
        raise ActionDenied(SESSION_ENDED_MESSAGE, session_ended=True)
    session = live_session(conn, actor.session_id, now=now_utc(now))
    if session is None or session.username != actor.username:
        raise ActionDenied(SESSION_ENDED_MESSAGE, session_ended=True)
    return session.roles


def audit_denial(
    conn: Connection,
    actor: Actor,
    *,
    action: str,
    target_type: str | None,
    target_id: str | None,
    detail: str,
    reason: str | None = None,
) -> None:
    """Write a 'denied' audit row on its own connection, so it survives the caller's rollback."""
    record = AuditRecord(
        actor=str(getattr(actor, "username", "?")),
        actor_roles=tuple(str(r) for r in getattr(actor, "roles", ())),
        action=action,
        outcome="denied",
        target_type=target_type,
        target_id=target_id,
        reason=reason,
        detail=detail,
    )
    try:
        with conn.engine.begin() as own:
            record_audit(own, record)
    except Exception:  # the denial stands even if it could not be recorded; say so in the log
        log.exception("could not audit a denied %s by %s", action, record.actor)


def authorize(
    conn: Connection,
    actor: Actor,
    action: str,
    *,
    target: tuple[str, str | None] | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> tuple[Role, ...]:
    """Check on the server that ``actor`` may perform ``action``; return the live roles.

    The permission comes from ACTION_PERMISSIONS (an action missing there raises LookupError
    before anything else happens). A refusal (no permission, or no live session) is audited
    and raised as ActionDenied with a plain message. ``target`` is (type, id) for the audit row.
    """
    permission = permission_for(action)
    target_type, target_id = target if target is not None else (None, None)
    try:
        roles = live_roles(conn, actor, now=now)
    except ActionDenied as denied:
        audit_denial(
            conn,
            actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            reason=reason,
            detail=f"no live session: {permission.value}",
        )
        raise denied from None
    if not allowed(roles, permission):
        audit_denial(
            conn,
            Actor(actor.username, roles, actor.session_id),
            action=action,
            target_type=target_type,
            target_id=target_id,
            reason=reason,
            detail=f"missing permission {permission.value}",
        )
        raise ActionDenied(DENIED_MESSAGE)
    return roles


def change_record(
    actor: Actor,
    roles: tuple[Role, ...],
    action: str,
    *,
    target: tuple[str, str | None],
    outcome: str = "ok",
    reason: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: str | None = None,
) -> AuditRecord:
    """The audit row of a change ``actor`` made with its live ``roles`` (one shape for all)."""
    return AuditRecord(
        actor=actor.username,
        actor_roles=tuple(r.value for r in roles),
        action=action,
        outcome=outcome,
        target_type=target[0],
        target_id=target[1],
        reason=reason,
        before=before,
        after=after,
        detail=detail,
    )


def audit_change(
    conn: Connection,
    actor: Actor,
    roles: tuple[Role, ...],
    action: str,
    *,
    target: tuple[str, str | None],
    **fields: Any,
) -> None:
    """Write the change's audit row on ``conn``: it commits or rolls back with the change."""
    record_audit(conn, change_record(actor, roles, action, target=target, **fields))


Body = Callable[[Connection, tuple[Role, ...]], ActionResult]


@telemetry.traced_action
def run_authorised(
    engine: Engine,
    actor: Actor,
    action: str,
    body: Body,
    *,
    target: tuple[str, str | None] | None = None,
    reason: str | None = None,
    integrity_message: str | None = None,
    topics: Sequence[str] = (),
) -> ActionResult:
    """The one shape of a state change: authorise ``action``, then ``body`` in one transaction.

    When the change committed (outcome "changed"), the shared-cache ``topics`` it touched get
    a new generation, so the next view on any console replica shows it.

    ``body(conn, roles)`` locks, changes and writes its audit row on ``conn``; everything
    commits together or not at all. A denial is audited (on its own connection) and answered
    as a "denied" result; a database failure rolls everything back and is answered as "error"
    (an IntegrityError as ``integrity_message`` when given). Never raises for those.
    """
    try:
        with engine.begin() as conn:
            try:
                roles = authorize(conn, actor, action, target=target, reason=reason)
            except ActionDenied as denied:
                return ActionResult("denied", denied.message)
            result = body(conn, roles)
    except IntegrityError:
        if integrity_message is None:
            log.exception("%s on %s failed", action, target)
            return ActionResult("error", ERROR_MESSAGE)
        return ActionResult("invalid", integrity_message)
    except SQLAlchemyError:
        log.exception("%s on %s failed", action, target)
        return ActionResult("error", ERROR_MESSAGE)
    if result.outcome == "changed":
        # After the commit, never before: a reader that computes between a bump and the
        # commit would store the old state under the new generation.
        announce_change(topics)
    return result


def announce_change(topics: Sequence[str]) -> None:
    """Tell every console replica that what ``topics`` name has changed (shared cache topics).

    Quiet when no Redis is configured or it is down: the cached entries then age out with
    their TTL.
    """
    url = get_settings().redis_url
    if not topics or not url:
        return
    try:
        client = make_redis(url)
    except (ValueError, RuntimeError) as exc:  # an unusable URL must not fail a committed change
        log.warning("cache topics not bumped: %s", exc)
        return
    bump_topics(client, topics)


def clean_reason(reason: object, *, required: bool = True) -> str | None:
    """A trimmed reason, or None when it is missing and optional; ValueError when unusable."""
    if reason is None or (isinstance(reason, str) and not reason.strip()):
        if required:
            raise ValueError("A reason is required.")
        return None
    if not isinstance(reason, str):
        raise ValueError("The reason must be text.")
    text = reason.strip()
    if len(text) > MAX_REASON:
        raise ValueError(f"The reason may have at most {MAX_REASON:,} characters.")
    return text
