"""Reading the audit trail: everybody's rows for admins, one's own rows for everyone else.

The permission decides the rows, on the server: a user without view_audit_all gets only rows
where they are the actor, whatever filters the page sent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from dashboard.actions.base import ActionDenied, Actor, authorize, live_roles
from dashboard.data.keyset import Field, decode_cursor, encode_cursor
from dashboard.db.auth_store import AuditQuery, AuditRecord, record_audit, select_audit
from dashboard.domain.csv_export import rows_to_csv
from dashboard.domain.permissions import Permission, allowed

MAX_PAGE = 1000
MAX_EXPORT = 50_000
AUDIT_COLUMNS = [
    "id",
    "at",
    "actor",
    "actor_roles",
    "action",
    "target_type",
    "target_id",
    "reason",
    "before",
    "after",
    "outcome",
    "detail",
]


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page asks for. Blank means any; ``action`` ending in '.' is a prefix."""

    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("actor", "action", "target_type", "target_id"):
            value = getattr(self, name)
            if value is not None:
                value = str(value).strip()[:200] or None
                object.__setattr__(self, name, value)
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise ValueError(f"{name} must be a date-time with a time zone")
        if self.since and self.until and self.until <= self.since:
            raise ValueError("the end of the time range must be after its start")
        if self.since and self.until and self.until - self.since > timedelta(days=400):
            raise ValueError("a time range may span at most 400 days")


@dataclass(frozen=True)
class AuditPage:
    """Audit rows, newest first; pass ``next_cursor`` back (opaque, signed) for the next page."""

    rows: pd.DataFrame
    next_cursor: str | None
    own_only: bool


def _query(
    engine: Engine, actor: Actor, filters: AuditFilter, action: str
) -> tuple[AuditQuery | None, bool]:
    """The query this actor may run (None: nothing to see), and whether it is own rows only."""
    with engine.connect() as conn:
        try:
            roles = authorize(conn, actor, action, target=("audit", None))
        finally:
            conn.commit()
    own_only = not allowed(roles, Permission.VIEW_AUDIT_ALL)
    query = AuditQuery(
        actor=filters.actor,
        action=filters.action,
        target_type=filters.target_type,
        target_id=filters.target_id,
        since=filters.since,
        until=filters.until,
    )
    if own_only:
        if filters.actor not in (None, actor.username):
            return None, True  # someone else's rows: answer with none, never with theirs
        query = replace(query, actor=actor.username)
    return query, own_only


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
    df["at"] = pd.to_datetime(df["at"], utc=True)
    return df


_SCOPE = "audit.list"


def list_audit(
    engine: Engine,
    actor: Actor,
    *,
    filters: AuditFilter | None = None,
    limit: int = 200,
    cursor: str | None = None,
) -> AuditPage:
    """One page of the audit log the actor may see, newest first (keyset on id).

    Needs view_audit_own (every role); rows of other actors need view_audit_all (admin).
    Raises ActionDenied (audited) when the session is not live; a ``cursor`` that is not
    a ``next_cursor`` of these filters raises InvalidQuery.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    chosen = filters or AuditFilter()
    binding = {k: v for k, v in vars(chosen).items() if v is not None}
    before_id = None
    if cursor is not None:
        seen = decode_cursor(cursor, scope=_SCOPE, binding=binding, fields={"i": Field.ID})
        before_id = int(seen["i"])
    query, own_only = _query(engine, actor, chosen, "audit.list")
    rows: list[dict[str, Any]] = []
    if query is not None:
        with engine.connect() as conn:
            rows = select_audit(conn, replace(query, before_id=before_id), limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        position = {"i": int(rows[-1]["id"])}
        next_cursor = encode_cursor(scope=_SCOPE, binding=binding, position=position)
    return AuditPage(rows=_frame(rows), next_cursor=next_cursor, own_only=own_only)


def audit_csv(
    engine: Engine,
    actor: Actor,
    *,
    filters: AuditFilter | None = None,
    limit: int = MAX_EXPORT,
) -> str:
    """The visible audit rows matching ``filters`` as CSV (formula cells neutralised). Audited."""
    if not 1 <= limit <= MAX_EXPORT:
        raise ValueError(f"an export holds at most {MAX_EXPORT:,} rows")
    chosen = filters or AuditFilter()
    query, own_only = _query(engine, actor, chosen, "audit.export")
    with engine.begin() as conn:
        rows = select_audit(conn, query, limit=limit) if query is not None else []
        roles = live_roles(conn, actor)
        record_audit(
            conn,
            AuditRecord(
                actor=actor.username,
                actor_roles=tuple(r.value for r in roles),
                action="audit.export",
                outcome="ok",
                target_type="audit",
                after={
                    "rows": len(rows),
                    "own_only": own_only,
                    "filters": {k: v for k, v in vars(chosen).items() if v is not None},
                },
            ),
        )
    return rows_to_csv(AUDIT_COLUMNS, ([row[c] for c in AUDIT_COLUMNS] for row in rows))


__all__ = [
    "AUDIT_COLUMNS",
    "ActionDenied",
    "AuditFilter",
    "AuditPage",
    "audit_csv",
    "list_audit",
]
