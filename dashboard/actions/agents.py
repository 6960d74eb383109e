"""Quarantine, release and discovery review of agents: one agent or a confirmed selection.

Each call re-checks the actor's permission in the database, then, in ONE transaction, locks the
agents, changes those still eligible (``version = version + 1``), writes their status-change
rows and their audit rows, and commits. Concurrent callers therefore produce exactly one
transition; the others are told it already happened (noop) or that the agent moved on
(conflict). Repeating a request changes nothing and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, insert, text
from sqlalchemy.exc import SQLAlchemyError

from dashboard.actions.base import (
    ERROR_MESSAGE,
    ActionDenied,
    ActionResult,
    Actor,
    authorize,
    clean_reason,
)
from dashboard.data.agents import AgentFilter, count_agents, search_agents
from dashboard.data.errors import InvalidQuery
from dashboard.db.auth_store import AuditRecord, record_audit, record_audit_many
from dashboard.db.models import AgentStatusChange
from dashboard.domain.enums import AgentStatus
from dashboard.domain.permissions import Permission, Role

log = logging.getLogger(__name__)

CONFIRM_ABOVE = 10
"""Bulk actions touching more agents than this need the count typed back (confirm_count)."""
MAX_BULK = 10_000
"""At most this many agents per bulk action: narrow the selection for more."""

# Test seam: called inside the transaction after every write, just before COMMIT.
_before_commit: Callable[[Connection], None] | None = None

Targets = AgentFilter | Sequence[int]


@dataclass(frozen=True)
class _Transition:
    action: str
    bulk_action: str
    permission: Permission
    to_status: AgentStatus
    eligible: str  # SQL on the locked row ``l``
    assignments: str  # extra SET assignments on ``agents a``
    reason_required: bool
    done: str  # past participle for messages
    not_eligible: Callable[[dict[str, Any]], str]


def _already_quarantined(row: dict[str, Any]) -> str:
    return f"Agent #{row['id']} is already quarantined; nothing changed."


def _not_quarantined(row: dict[str, Any]) -> str:
    return f"Agent #{row['id']} is not quarantined (it is {row['status']}); nothing changed."


def _not_awaiting_review(row: dict[str, Any]) -> str:
    if row["status"] != AgentStatus.QUARANTINED:
        return (
            f"Agent #{row['id']} is not awaiting review (it is {row['status']}); nothing changed."
        )
    return f"Agent #{row['id']} was already reviewed; nothing changed."


_CLEAR_QUARANTINE = "quarantine_reason = NULL, quarantined_by = NULL, quarantined_at = NULL"
_KEEP_REVIEW = (
    "reviewed_at = coalesce(a.reviewed_at, now()), reviewed_by = coalesce(a.reviewed_by, :by)"
)
_AWAITING_REVIEW = "l.status = 'quarantined' AND l.reviewed_at IS NULL"

QUARANTINE = _Transition(
    action="agent.quarantine",
    bulk_action="agent.bulk_quarantine",
    permission=Permission.QUARANTINE_AGENTS,
    to_status=AgentStatus.QUARANTINED,
    eligible="l.status <> 'quarantined'",
    assignments="quarantine_reason = :reason, quarantined_by = :by, quarantined_at = now(), "
    + _KEEP_REVIEW,
    reason_required=True,
    done="quarantined",
    not_eligible=_already_quarantined,
)
RELEASE = _Transition(
    action="agent.release",
    bulk_action="agent.bulk_release",
    permission=Permission.RELEASE_AGENTS,
    to_status=AgentStatus.ACTIVE,
    eligible="l.status = 'quarantined'",
    assignments=f"{_CLEAR_QUARANTINE}, {_KEEP_REVIEW}",
    reason_required=True,
    done="released",
    not_eligible=_not_quarantined,
)
APPROVE = _Transition(
    action="discovery.approve",
    bulk_action="discovery.bulk_approve",
    permission=Permission.REVIEW_DISCOVERIES,
    to_status=AgentStatus.ACTIVE,
    eligible=_AWAITING_REVIEW,
    assignments=f"{_CLEAR_QUARANTINE}, reviewed_at = now(), reviewed_by = :by",
    reason_required=False,
    done="approved",
    not_eligible=_not_awaiting_review,
)
REJECT = _Transition(
    action="discovery.reject",
    bulk_action="discovery.bulk_reject",
    permission=Permission.REVIEW_DISCOVERIES,
    to_status=AgentStatus.DEPRECATED,
    eligible=_AWAITING_REVIEW,
    assignments=f"{_CLEAR_QUARANTINE}, reviewed_at = now(), reviewed_by = :by",
    reason_required=False,
    done="rejected",
    not_eligible=_not_awaiting_review,
)


def _apply(
    conn: Connection,
    t: _Transition,
    *,
    ids: list[int],
    actor: Actor,
    roles: tuple[Role, ...],
    reason: str | None,
    expected_version: int | None = None,
    bulk: bool = False,
) -> list[dict[str, Any]]:
    """Lock ``ids`` (in id order), change the eligible ones, write history and audit rows."""
    guard = " AND l.version = :expected" if expected_version is not None else ""
    sql = f"""
        WITH locked AS (
            SELECT id, status, version, reviewed_at FROM agents
            WHERE id = ANY(:ids) ORDER BY id FOR UPDATE
        )
        UPDATE agents a
        SET status = :to_status, version = a.version + 1, updated_at = now(), {t.assignments}
        FROM locked l
        WHERE a.id = l.id AND a.version = l.version AND {t.eligible}{guard}
        RETURNING a.id, l.status AS from_status, l.version AS from_version,
                  a.version AS to_version, now() AS changed_at
    """  # noqa: S608 - only the transition's constant SQL fragments are formatted in
    params: dict[str, Any] = {
        "ids": ids,
        "to_status": t.to_status.value,
        "by": actor.username,
        "reason": reason,
    }
    if expected_version is not None:
        params["expected"] = expected_version
    changed = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    changed.sort(key=lambda r: r["id"])
    if changed:
        conn.execute(
            insert(AgentStatusChange),
            [
                {
                    "agent_id": r["id"],
                    "from_status": r["from_status"],
                    "to_status": t.to_status.value,
                    "changed_at": r["changed_at"],
                    "changed_by": actor.username,
                    "reason": reason,
                }
                for r in changed
            ],
        )
        record_audit_many(
            conn,
            (
                AuditRecord(
                    actor=actor.username,
                    actor_roles=tuple(r.value for r in roles),
                    action=t.action,
                    outcome="ok",
                    target_type="agent",
                    target_id=str(r["id"]),
                    reason=reason,
                    before={"status": r["from_status"], "version": r["from_version"]},
                    after={"status": t.to_status.value, "version": r["to_version"]},
                    detail="bulk" if bulk else None,
                )
                for r in changed
            ),
        )
    return changed


def _commit_seam(conn: Connection) -> None:
    hook = _before_commit
    if hook is not None:
        hook(conn)


def _valid_id(agent_id: object) -> bool:
    return isinstance(agent_id, int) and not isinstance(agent_id, bool) and 0 < agent_id < 2**63


def _single(
    engine: Engine,
    t: _Transition,
    actor: Actor,
    agent_id: int,
    reason: str | None,
    expected_version: int | None,
) -> ActionResult:
    target = ("agent", str(agent_id))
    try:
        with engine.begin() as conn:
            try:
                roles = authorize(conn, actor, t.action, target=target)
            except ActionDenied as denied:
                return ActionResult("denied", denied.message)
            if not _valid_id(agent_id):
                return ActionResult("invalid", "An agent id is a positive whole number.")
            if expected_version is not None and not _valid_id(expected_version):
                return ActionResult("invalid", "The expected version is a positive whole number.")
            try:
                why = clean_reason(reason, required=t.reason_required)
            except ValueError as exc:
                return ActionResult("invalid", str(exc))
            changed = _apply(
                conn,
                t,
                ids=[agent_id],
                actor=actor,
                roles=roles,
                reason=why,
                expected_version=expected_version,
            )
            if changed:
                _commit_seam(conn)
                return ActionResult("changed", f"Agent #{agent_id} {t.done}.", count=1)
            row = (
                conn.execute(
                    text("SELECT id, status, version, reviewed_at FROM agents WHERE id = :id"),
                    {"id": agent_id},
                )
                .mappings()
                .first()
            )
            if row is None:
                return ActionResult("not_found", f"There is no agent #{agent_id}.")
            current = dict(row)
            if expected_version is not None and current["version"] != expected_version:
                eligible = _still_eligible(conn, t, agent_id)
                if eligible:
                    return ActionResult(
                        "conflict",
                        f"Agent #{agent_id} was changed by someone else since you opened it "
                        "(it is now " + str(current["status"]) + "). Reload and try again.",
                    )
            return ActionResult("noop", t.not_eligible(current))
    except SQLAlchemyError:
        log.exception("%s of agent %s failed", t.action, agent_id)
        return ActionResult("error", ERROR_MESSAGE)


def _still_eligible(conn: Connection, t: _Transition, agent_id: int) -> bool:
    sql = f"SELECT {t.eligible} FROM agents l WHERE l.id = :id"  # noqa: S608 - constant SQL
    return bool(conn.execute(text(sql), {"id": agent_id}).scalar())


def quarantine_agent(
    engine: Engine,
    actor: Actor,
    agent_id: int,
    reason: str,
    expected_version: int | None = None,
) -> ActionResult:
    """Take one agent out of service. Needs quarantine_agents and a reason (≤ 1,000 chars).

    ``expected_version`` (the version the user was looking at) turns a concurrent change by
    someone else into a 'conflict' instead of acting on a state the user has not seen.
    """
    return _single(engine, QUARANTINE, actor, agent_id, reason, expected_version)


def release_agent(
    engine: Engine,
    actor: Actor,
    agent_id: int,
    reason: str,
    expected_version: int | None = None,
) -> ActionResult:
    """Return a quarantined agent to active. Needs release_agents and a reason."""
    return _single(engine, RELEASE, actor, agent_id, reason, expected_version)


def approve_discovery(
    engine: Engine,
    actor: Actor,
    agent_id: int,
    reason: str | None = None,
    expected_version: int | None = None,
) -> ActionResult:
    """Approve a newly discovered agent (quarantined, never reviewed): it becomes active."""
    return _single(engine, APPROVE, actor, agent_id, reason, expected_version)


def reject_discovery(
    engine: Engine,
    actor: Actor,
    agent_id: int,
    reason: str | None = None,
    expected_version: int | None = None,
) -> ActionResult:
    """Reject a newly discovered agent: it becomes deprecated (and counts as reviewed)."""
    return _single(engine, REJECT, actor, agent_id, reason, expected_version)


# ----------------------------------------------------------------------------- bulk


def _describe(targets: Targets) -> tuple[str, dict[str, Any]]:
    if isinstance(targets, AgentFilter):
        params = targets.to_query_params()
        text_form = "&".join(f"{k}={v}" for k, v in sorted(params.items())) or "all agents"
        return f"filter:{text_form}", {"filter": params}
    return f"ids:{len(targets)}", {"ids": [int(i) for i in list(targets)[:100]]}


def _resolve(conn: Connection, targets: Targets) -> list[int] | str:
    """Ids of the agents selected now (sorted), or a plain message when the selection is bad."""
    if isinstance(targets, AgentFilter):
        total = count_agents(conn, filters=targets)
        if total > MAX_BULK:
            return (
                f"This selection holds {total:,} agents; a bulk action may touch at most "
                f"{MAX_BULK:,}. Narrow the filters."
            )
        ids: list[int] = []
        cursor: str | None = None
        while True:
            page = search_agents(conn, filters=targets, sort="name", cursor=cursor, page_size=1000)
            ids.extend(int(i) for i in page.rows["id"])
            cursor = page.next_cursor
            if cursor is None:
                break
        return sorted(set(ids))
    if isinstance(targets, str | bytes) or not isinstance(targets, Sequence):
        return "Choose agents with a filter or a list of agent ids."
    if not all(_valid_id(i) for i in targets):
        return "Agent ids are positive whole numbers."
    wanted = sorted(set(targets))
    if len(wanted) > MAX_BULK:
        return f"A bulk action may touch at most {MAX_BULK:,} agents; choose fewer."
    existing = conn.execute(
        text("SELECT id FROM agents WHERE id = ANY(:ids) ORDER BY id"), {"ids": wanted}
    ).scalars()
    return [int(i) for i in existing]


def _bulk(
    engine: Engine,
    t: _Transition,
    actor: Actor,
    targets: Targets,
    reason: str | None,
    confirm_count: int | None,
) -> ActionResult:
    try:
        label, described = _describe(targets)
    except (TypeError, ValueError):
        label, described = "invalid", {}
    try:
        with engine.begin() as conn:
            try:
                roles = authorize(conn, actor, t.bulk_action, target=("agents", label))
            except ActionDenied as denied:
                return ActionResult("denied", denied.message)
            try:
                why = clean_reason(reason, required=t.reason_required)
            except ValueError as exc:
                return ActionResult("invalid", str(exc))
            if confirm_count is not None and (
                not isinstance(confirm_count, int) or isinstance(confirm_count, bool)
            ):
                return ActionResult("invalid", "The confirmation must be a whole number.")
            try:
                resolved = _resolve(conn, targets)
            except InvalidQuery as exc:
                return ActionResult("invalid", str(exc))
            if isinstance(resolved, str):
                return ActionResult("invalid", resolved)
            matched = len(resolved)
            if matched == 0:
                return ActionResult("noop", "No agents match this selection; nothing changed.")
            if matched > CONFIRM_ABOVE and confirm_count is None:
                return ActionResult(
                    "invalid",
                    f"This will touch {matched:,} agents. Type {matched} to confirm.",
                )
            if confirm_count is not None and confirm_count != matched:
                return ActionResult(
                    "invalid",
                    f"The selection holds {matched:,} agents, not {confirm_count:,}: it may have "
                    f"changed. Check it and type {matched} to confirm.",
                )
            changed = _apply(conn, t, ids=resolved, actor=actor, roles=roles, reason=why, bulk=True)
            record_audit(
                conn,
                AuditRecord(
                    actor=actor.username,
                    actor_roles=tuple(r.value for r in roles),
                    action=t.bulk_action,
                    outcome="ok" if changed else "noop",
                    target_type="agents",
                    target_id=label,
                    reason=why,
                    after={"matched": matched, "changed": len(changed), **described},
                ),
            )
            _commit_seam(conn)
    except SQLAlchemyError:
        log.exception("%s by %s failed", t.bulk_action, getattr(actor, "username", "?"))
        return ActionResult("error", ERROR_MESSAGE)
    unchanged = matched - len(changed)
    if not changed:
        return ActionResult(
            "noop", f"None of the {matched:,} selected agents needed this; nothing changed."
        )
    note = f"; {unchanged:,} were already in that state" if unchanged else ""
    return ActionResult(
        "changed",
        f"{len(changed):,} of {matched:,} selected agents {t.done}{note}.",
        count=len(changed),
    )


def bulk_quarantine(
    engine: Engine,
    actor: Actor,
    targets: Targets,
    reason: str,
    *,
    confirm_count: int | None = None,
) -> ActionResult:
    """Quarantine every agent of a registry filter (or id list) in one transaction.

    Show the user ``count_bulk_targets`` first; when it is above 10 they must type it back,
    passed here as ``confirm_count``, which must equal the selection's size at commit time.
    """
    return _bulk(engine, QUARANTINE, actor, targets, reason, confirm_count)


def bulk_release(
    engine: Engine,
    actor: Actor,
    targets: Targets,
    reason: str,
    *,
    confirm_count: int | None = None,
) -> ActionResult:
    """Release every quarantined agent of a selection (same confirmation rule)."""
    return _bulk(engine, RELEASE, actor, targets, reason, confirm_count)


def bulk_approve_discoveries(
    engine: Engine,
    actor: Actor,
    targets: Targets,
    reason: str | None = None,
    *,
    confirm_count: int | None = None,
) -> ActionResult:
    """Approve the selected discoveries still awaiting review (same confirmation rule)."""
    return _bulk(engine, APPROVE, actor, targets, reason, confirm_count)


def bulk_reject_discoveries(
    engine: Engine,
    actor: Actor,
    targets: Targets,
    reason: str | None = None,
    *,
    confirm_count: int | None = None,
) -> ActionResult:
    """Reject the selected discoveries still awaiting review (same confirmation rule)."""
    return _bulk(engine, REJECT, actor, targets, reason, confirm_count)


def count_bulk_targets(engine: Engine, targets: Targets) -> int:
    """How many agents a bulk action on ``targets`` would touch (what the user must type)."""
    with engine.connect() as conn:
        resolved = _resolve(conn, targets)
    if isinstance(resolved, str):
        raise InvalidQuery(resolved)
    return len(resolved)


def needs_typed_confirmation(count: int) -> bool:
    """True when a bulk action of ``count`` agents needs the count typed back."""
    return count > CONFIRM_ABOVE


# ----------------------------------------------------------------------------- review queue


@dataclass(frozen=True)
class ReviewQueuePage:
    """Newly discovered agents awaiting review, oldest first. Names are untrusted text."""

    rows: pd.DataFrame
    total: int
    next_after: tuple[datetime, int] | None


REVIEW_COLUMNS = [
    "id",
    "name",
    "type",
    "vendor",
    "owner",
    "discovery_source",
    "discovered_at",
    "trust_score",
    "version",
]


def list_review_queue(
    engine: Engine,
    actor: Actor,
    *,
    limit: int = 100,
    after: tuple[datetime, int] | None = None,
) -> ReviewQueuePage:
    """One keyset page of the discovery review queue (quarantined, never reviewed), oldest first.

    Needs review_discoveries (raises ActionDenied otherwise, audited). ``after`` is the
    ``next_after`` of the previous page.
    """
    if not 1 <= limit <= 1000:
        raise InvalidQuery("limit must be between 1 and 1000")
    with engine.connect() as conn:
        try:
            authorize(
                conn,
                actor,
                "discovery.list",
                target=("agents", "review_queue"),
            )
        finally:
            conn.commit()  # keep a session revoked on the way
        params: dict[str, Any] = {"limit": limit + 1}
        seek = ""
        if after is not None:
            params["after_ts"], params["after_id"] = after
            seek = " AND (discovered_at, id) > (:after_ts, :after_id)"
        rows = list(
            conn.execute(
                text(
                    f"SELECT {', '.join(REVIEW_COLUMNS)} FROM agents "  # noqa: S608 - constant columns
                    "WHERE status = 'quarantined' AND reviewed_at IS NULL"
                    + seek
                    + " ORDER BY discovered_at, id LIMIT :limit"
                ),
                params,
            ).mappings()
        )
        total = int(
            conn.execute(
                text(
                    "SELECT count(*) FROM agents WHERE status = 'quarantined' AND reviewed_at IS NULL"
                )
            ).scalar_one()
        )
    more = len(rows) > limit
    rows = rows[:limit]
    df = pd.DataFrame([dict(r) for r in rows], columns=REVIEW_COLUMNS)
    df["discovered_at"] = pd.to_datetime(df["discovered_at"], utc=True)
    last = rows[-1] if rows else None
    next_after = (last["discovered_at"], int(last["id"])) if more and last is not None else None
    return ReviewQueuePage(rows=df, total=total, next_after=next_after)
