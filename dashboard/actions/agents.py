"""Quarantine, release and discovery review of agents: one agent or a confirmed selection.

Each call re-checks the actor's permission in the database, then, in ONE transaction, locks the
agents, changes those still eligible (``version = version + 1``), writes their status-change
rows and their audit rows, and commits. Concurrent callers therefore produce exactly one
transition; the others are told it already happened (noop) or that the agent moved on
(conflict). Repeating a request changes nothing and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine

from dashboard.actions.base import (
    ActionResult,
    Actor,
    audit_change,
    authorize,
    change_record,
    clean_reason,
    run_authorised,
)
from dashboard.data.agent_filter import AgentFilter
from dashboard.data.agent_store import (
    AgentState,
    ChangedAgent,
    Transition,
    apply_transition,
    count_review_queue,
    get_agent_state,
    is_eligible,
    list_existing_agent_ids,
    list_review_queue_rows,
    target_status,
)
from dashboard.data.agents import count_agents, search_agents
from dashboard.data.cache import AGENT_TOPICS as AGENT_TOPICS
from dashboard.data.errors import InvalidQuery
from dashboard.data.incidents import record_timeline_open
from dashboard.data.keyset import Field, decode_cursor, encode_cursor
from dashboard.db.auth_store import record_audit_many
from dashboard.domain.enums import AgentStatus
from dashboard.domain.permissions import Role

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
    change: Transition
    reason_required: bool
    done: str  # past participle for messages
    not_eligible: Callable[[AgentState], str]


def _already_quarantined(row: AgentState) -> str:
    return f"Agent #{row.id} is already quarantined; nothing changed."


def _not_quarantined(row: AgentState) -> str:
    return f"Agent #{row.id} is not quarantined (it is {row.status}); nothing changed."


def _not_awaiting_review(row: AgentState) -> str:
    if row.status != AgentStatus.QUARANTINED:
        return f"Agent #{row.id} is not awaiting review (it is {row.status}); nothing changed."
    return f"Agent #{row.id} was already reviewed; nothing changed."


QUARANTINE = _Transition(
    action="agent.quarantine",
    bulk_action="agent.bulk_quarantine",
    change=Transition.QUARANTINE,
    reason_required=True,
    done="quarantined",
    not_eligible=_already_quarantined,
)
RELEASE = _Transition(
    action="agent.release",
    bulk_action="agent.bulk_release",
    change=Transition.RELEASE,
    reason_required=True,
    done="released",
    not_eligible=_not_quarantined,
)
APPROVE = _Transition(
    action="discovery.approve",
    bulk_action="discovery.bulk_approve",
    change=Transition.APPROVE,
    reason_required=False,
    done="approved",
    not_eligible=_not_awaiting_review,
)
REJECT = _Transition(
    action="discovery.reject",
    bulk_action="discovery.bulk_reject",
    change=Transition.REJECT,
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
) -> list[ChangedAgent]:
    """Change the eligible agents of ``ids`` (data layer), then write one audit row each."""
    changed = apply_transition(
        conn,
        transition=t.change,
        ids=ids,
        changed_by=actor.username,
        reason=reason,
        expected_version=expected_version,
    )
    if changed:
        to_status = target_status(t.change).value
        record_audit_many(
            conn,
            (
                change_record(
                    actor,
                    roles,
                    t.action,
                    target=("agent", str(c.id)),
                    reason=reason,
                    before={"status": c.from_status, "version": c.from_version},
                    after={"status": to_status, "version": c.to_version},
                    detail="bulk" if bulk else None,
                )
                for c in changed
            ),
        )
        if t.change == Transition.QUARANTINE:
            _note_on_open_incidents(conn, actor, changed, reason)
    return changed


def _note_on_open_incidents(
    conn: Connection, actor: Actor, changed: list[ChangedAgent], reason: str | None
) -> None:
    """Quarantines made while incidents are open belong on their timelines (issue 10)."""
    shown = ", ".join(f"#{c.id}" for c in changed[:20])
    more = f" and {len(changed) - 20:,} more" if len(changed) > 20 else ""
    record_timeline_open(
        conn,
        kind="quarantine",
        at=datetime.now(UTC),
        actor=actor.username,
        text=f"Quarantined agent {shown}{more}: {reason or 'no reason given'}",
    )


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
    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
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
        current = get_agent_state(conn, agent_id=agent_id)
        if current is None:
            return ActionResult("not_found", f"There is no agent #{agent_id}.")
        if (
            expected_version is not None
            and current.version != expected_version
            and is_eligible(conn, transition=t.change, agent_id=agent_id)
        ):
            return ActionResult(
                "conflict",
                f"Agent #{agent_id} was changed by someone else since you opened it "
                f"(it is now {current.status}). Reload and try again.",
            )
        return ActionResult("noop", t.not_eligible(current))

    return run_authorised(
        engine, actor, t.action, body, target=("agent", str(agent_id)), topics=AGENT_TOPICS
    )


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
    return list_existing_agent_ids(conn, ids=wanted)


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

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
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
        if needs_typed_confirmation(matched) and confirm_count is None:
            return ActionResult(
                "invalid", f"This will touch {matched:,} agents. Type {matched} to confirm."
            )
        if confirm_count is not None and confirm_count != matched:
            return ActionResult(
                "invalid",
                f"The selection holds {matched:,} agents, not {confirm_count:,}: it may have "
                f"changed. Check it and type {matched} to confirm.",
            )
        changed = _apply(conn, t, ids=resolved, actor=actor, roles=roles, reason=why, bulk=True)
        audit_change(
            conn,
            actor,
            roles,
            t.bulk_action,
            target=("agents", label),
            outcome="ok" if changed else "noop",
            reason=why,
            after={"matched": matched, "changed": len(changed), **described},
        )
        _commit_seam(conn)
        if not changed:
            return ActionResult(
                "noop", f"None of the {matched:,} selected agents needed this; nothing changed."
            )
        unchanged = matched - len(changed)
        note = f"; {unchanged:,} were already in that state" if unchanged else ""
        return ActionResult(
            "changed",
            f"{len(changed):,} of {matched:,} selected agents {t.done}{note}.",
            count=len(changed),
        )

    return run_authorised(
        engine, actor, t.bulk_action, body, target=("agents", label), topics=AGENT_TOPICS
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
    next_cursor: str | None


_QUEUE_SCOPE = "agents.review_queue"


def list_review_queue(
    engine: Engine,
    actor: Actor,
    *,
    limit: int = 100,
    cursor: str | None = None,
) -> ReviewQueuePage:
    """One keyset page of the discovery review queue (quarantined, never reviewed), oldest first.

    Needs review_discoveries (raises ActionDenied otherwise, audited). ``cursor`` is the
    ``next_cursor`` of the previous page (opaque, signed; a bad one raises InvalidQuery).
    """
    if not 1 <= limit <= 1000:
        raise InvalidQuery("limit must be between 1 and 1000")
    after = None
    if cursor is not None:
        seen = decode_cursor(
            cursor,
            scope=_QUEUE_SCOPE,
            binding={},
            fields={"t": Field.DATETIME, "i": Field.ID},
        )
        after = (seen["t"], seen["i"])
    with engine.connect() as conn:
        try:
            authorize(conn, actor, "discovery.list", target=("agents", "review_queue"))
        finally:
            conn.commit()  # keep a session revoked on the way
        rows, more = list_review_queue_rows(conn, limit=limit, after=after)
        total = count_review_queue(conn)
    next_cursor = None
    if more and not rows.empty:
        last = rows.iloc[-1]
        next_cursor = encode_cursor(
            scope=_QUEUE_SCOPE,
            binding={},
            position={"t": last["discovered_at"].to_pydatetime(), "i": int(last["id"])},
        )
    return ReviewQueuePage(rows=rows, total=total, next_cursor=next_cursor)
