"""SQL that changes agents: the locked, version-guarded status transitions and the review queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import pandas as pd
from sqlalchemy import Connection, insert, text

from dashboard.db.models import AgentStatusChange
from dashboard.domain.enums import AgentStatus


class Transition(StrEnum):
    """The status changes an agent can go through; each has its eligibility rule below."""

    QUARANTINE = "quarantine"
    RELEASE = "release"
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True)
class _Rule:
    to_status: AgentStatus
    eligible: str  # SQL on the locked row ``l``
    assignments: str  # extra SET assignments on ``agents a``


_CLEAR_QUARANTINE = "quarantine_reason = NULL, quarantined_by = NULL, quarantined_at = NULL"
_KEEP_REVIEW = (
    "reviewed_at = coalesce(a.reviewed_at, now()), reviewed_by = coalesce(a.reviewed_by, :by)"
)
_AWAITING_REVIEW = "l.status = 'quarantined' AND l.reviewed_at IS NULL"
_REVIEWED = f"{_CLEAR_QUARANTINE}, reviewed_at = now(), reviewed_by = :by"

_RULES: dict[Transition, _Rule] = {
    Transition.QUARANTINE: _Rule(
        AgentStatus.QUARANTINED,
        "l.status <> 'quarantined'",
        "quarantine_reason = :reason, quarantined_by = :by, quarantined_at = now(), "
        + _KEEP_REVIEW,
    ),
    Transition.RELEASE: _Rule(
        AgentStatus.ACTIVE, "l.status = 'quarantined'", f"{_CLEAR_QUARANTINE}, {_KEEP_REVIEW}"
    ),
    Transition.APPROVE: _Rule(AgentStatus.ACTIVE, _AWAITING_REVIEW, _REVIEWED),
    Transition.REJECT: _Rule(AgentStatus.DEPRECATED, _AWAITING_REVIEW, _REVIEWED),
}


def target_status(transition: Transition) -> AgentStatus:
    """The status an agent has after ``transition``."""
    return _RULES[transition].to_status


@dataclass(frozen=True)
class ChangedAgent:
    """One agent a transition changed: its status and version before and after."""

    id: int
    from_status: str
    from_version: int
    to_version: int


@dataclass(frozen=True)
class AgentState:
    """An agent's current status and version (what a no-op or conflict message needs)."""

    id: int
    status: str
    version: int
    reviewed_at: datetime | None


def apply_transition(
    conn: Connection,
    *,
    transition: Transition,
    ids: list[int],
    changed_by: str,
    reason: str | None,
    expected_version: int | None = None,
) -> list[ChangedAgent]:
    """Lock ``ids`` (in id order), change the eligible ones and write their status history.

    Rows are locked with FOR UPDATE in id order (no deadlock between overlapping selections)
    and changed only where the version is still the locked one, so concurrent callers make
    exactly one transition. With ``expected_version`` only that version is changed. Returns
    the changed agents sorted by id; the caller writes their audit rows on the same ``conn``.
    """
    rule = _RULES[transition]
    guard = " AND l.version = :expected" if expected_version is not None else ""
    sql = f"""
        WITH locked AS (
            SELECT id, status, version, reviewed_at FROM agents
            WHERE id = ANY(:ids) ORDER BY id FOR UPDATE
        )
        UPDATE agents a
        SET status = :to_status, version = a.version + 1, updated_at = now(), {rule.assignments}
        FROM locked l
        WHERE a.id = l.id AND a.version = l.version AND {rule.eligible}{guard}
        RETURNING a.id, l.status AS from_status, l.version AS from_version,
                  a.version AS to_version, now() AS changed_at
    """  # noqa: S608 - only the rule's constant SQL fragments are formatted in
    params: dict[str, Any] = {
        "ids": ids,
        "to_status": rule.to_status.value,
        "by": changed_by,
        "reason": reason,
    }
    if expected_version is not None:
        params["expected"] = expected_version
    rows = sorted(conn.execute(text(sql), params).mappings(), key=lambda r: int(r["id"]))
    if rows:
        conn.execute(
            insert(AgentStatusChange),
            [
                {
                    "agent_id": r["id"],
                    "from_status": r["from_status"],
                    "to_status": rule.to_status.value,
                    "changed_at": r["changed_at"],
                    "changed_by": changed_by,
                    "reason": reason,
                }
                for r in rows
            ],
        )
    return [
        ChangedAgent(
            id=int(r["id"]),
            from_status=str(r["from_status"]),
            from_version=int(r["from_version"]),
            to_version=int(r["to_version"]),
        )
        for r in rows
    ]


def get_agent_state(conn: Connection, *, agent_id: int) -> AgentState | None:
    """The agent's status and version now, or None when there is no such agent."""
    row = (
        conn.execute(
            text("SELECT id, status, version, reviewed_at FROM agents WHERE id = :id"),
            {"id": agent_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return AgentState(
        id=int(row["id"]),
        status=str(row["status"]),
        version=int(row["version"]),
        reviewed_at=row["reviewed_at"],
    )


def is_eligible(conn: Connection, *, transition: Transition, agent_id: int) -> bool:
    """Whether ``transition`` would change the agent in its current state."""
    rule = _RULES[transition]
    sql = f"SELECT {rule.eligible} FROM agents l WHERE l.id = :id"  # noqa: S608 - constant SQL
    return bool(conn.execute(text(sql), {"id": agent_id}).scalar())


def list_existing_agent_ids(conn: Connection, *, ids: list[int]) -> list[int]:
    """The ids among ``ids`` that name an agent, sorted."""
    rows = conn.execute(
        text("SELECT id FROM agents WHERE id = ANY(:ids) ORDER BY id"), {"ids": ids}
    ).scalars()
    return [int(i) for i in rows]


REVIEW_QUEUE_COLUMNS = [
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
_AWAITING = "status = 'quarantined' AND reviewed_at IS NULL"


def list_review_queue_rows(
    conn: Connection, *, limit: int, after: tuple[datetime, int] | None = None
) -> tuple[pd.DataFrame, bool]:
    """Up to ``limit`` discoveries awaiting review after ``after`` (discovered_at, id), oldest
    first, and whether more follow. Names in the rows are untrusted text."""
    params: dict[str, Any] = {"limit": limit + 1}
    seek = ""
    if after is not None:
        params["after_ts"], params["after_id"] = after
        seek = " AND (discovered_at, id) > (:after_ts, :after_id)"
    rows = list(
        conn.execute(
            text(
                f"SELECT {', '.join(REVIEW_QUEUE_COLUMNS)} FROM agents "  # noqa: S608 - constant columns
                f"WHERE {_AWAITING}{seek} ORDER BY discovered_at, id LIMIT :limit"
            ),
            params,
        ).mappings()
    )
    more = len(rows) > limit
    df = pd.DataFrame([dict(r) for r in rows[:limit]], columns=REVIEW_QUEUE_COLUMNS)
    df["discovered_at"] = pd.to_datetime(df["discovered_at"], utc=True)
    return df, more


def count_review_queue(conn: Connection) -> int:
    """How many discovered agents await review."""
    sql = f"SELECT count(*) FROM agents WHERE {_AWAITING}"  # noqa: S608 - constant SQL
    return int(conn.execute(text(sql)).scalar_one())
