"""Incidents in PostgreSQL: declare, link alerts, timeline, postmortem, MTTA/MTTR.

The interface the alert worker calls is :func:`declare_incident_for_alert` (idempotent per
alert key, safe with two workers), :func:`record_timeline` and :func:`summarize_incident_times`.
Every function works in the CALLER's transaction; nothing here decides who may do what.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, text

from dashboard.data.cache import register
from dashboard.data.keyset import Field, decode_cursor, encode_cursor
from dashboard.domain.incidents import (
    ActionItem,
    IncidentTimes,
    Phase,
    Postmortem,
    Severity,
    summarize_times,
)

__all__ = [
    "Incident",
    "IncidentTimes",
    "TimelineEntry",
    "declare_incident",
    "declare_incident_for_alert",
    "get_incident",
    "get_postmortem",
    "list_incidents",
    "list_timeline",
    "page_closed_incidents",
    "record_postmortem",
    "record_timeline",
    "summarize_incident_times",
]

_t = text  # record_timeline has a parameter called ``text`` (the interface)

MAX_TIMELINE_TEXT = 4000
MAX_TITLE = 200


@dataclass(frozen=True)
class Incident:
    """One incident row. ``title``, names and notes are untrusted text."""

    id: int
    title: str
    severity: Severity
    phase: Phase
    alert_key: str | None
    rule_id: str | None
    commander: str | None
    comms_lead: str | None
    declared_by: str
    declared_at: datetime
    detected_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    version: int

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class TimelineEntry:
    id: int
    incident_id: int
    at: datetime
    kind: str
    actor: str | None
    text: str
    public: bool


def _incident(row: Any) -> Incident:
    return Incident(
        id=int(row["id"]),
        title=str(row["title"]),
        severity=Severity(row["severity"]),
        phase=Phase(row["phase"]),
        alert_key=row["alert_key"],
        rule_id=row["rule_id"],
        commander=row["commander"],
        comms_lead=row["comms_lead"],
        declared_by=str(row["declared_by"]),
        declared_at=row["declared_at"],
        detected_at=row["detected_at"],
        acknowledged_at=row["acknowledged_at"],
        resolved_at=row["resolved_at"],
        closed_at=row["closed_at"],
        closed_by=row["closed_by"],
        version=int(row["version"]),
    )


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("times must carry a time zone")
    return at


def declare_incident(
    conn: Connection,
    *,
    title: str,
    severity: str,
    at: datetime,
    actor: str,
    detected_at: datetime | None = None,
    alert_key: str | None = None,
    rule_id: str | None = None,
    request_key: str | None = None,
) -> tuple[int, bool]:
    """Insert a new incident in phase detect with its first timeline entry.

    Returns (id, created). A repeated ``alert_key`` or ``request_key`` (a form submitted twice)
    inserts nothing and returns the existing incident with created False.
    """
    sev = Severity(severity)
    row = conn.execute(
        text(
            """INSERT INTO incidents (title, severity, alert_key, rule_id, request_key,
                   declared_by, declared_at, detected_at)
               VALUES (:title, :sev, :key, :rule, :req, :by, :at, :detected)
               ON CONFLICT DO NOTHING
               RETURNING id"""
        ),
        {
            "title": _clip(title.strip() or "Untitled incident", MAX_TITLE),
            "sev": sev.value,
            "key": alert_key,
            "rule": rule_id,
            "req": request_key,
            "by": actor,
            "at": _aware(at),
            "detected": _aware(detected_at or at),
        },
    ).scalar()
    if row is None:  # only with a key another transaction already declared for
        return _incident_for_key(conn, alert_key, request_key), False
    incident_id = int(row)
    if alert_key is not None:
        conn.execute(
            text(
                """INSERT INTO incident_alerts (incident_id, alert_key, linked_at)
                   VALUES (:id, :key, :at) ON CONFLICT DO NOTHING"""
            ),
            {"id": incident_id, "key": alert_key, "at": at},
        )
    source = f" from alert {alert_key}" if alert_key else ""
    record_timeline(
        conn,
        kind="declared",
        at=at,
        actor=actor,
        text=f"{sev.value} incident declared{source}: {title.strip()}",
        incident_id=incident_id,
    )
    return incident_id, True


def _incident_for_key(conn: Connection, alert_key: str | None, request_key: str | None) -> int:
    found = conn.execute(
        text("SELECT id FROM incidents WHERE alert_key = :key OR request_key = :req LIMIT 1"),
        {"key": alert_key, "req": request_key},
    ).scalar_one()
    return int(found)


def declare_incident_for_alert(
    conn: Connection,
    *,
    alert_key: str,
    rule_id: str,
    severity: str,
    title: str,
    at: datetime,
    actor: str,
) -> int:
    """The incident of the alert ``alert_key``, declaring it (linked) when there is none yet.

    Idempotent per alert key, also across concurrent transactions: the unique key makes the
    second INSERT wait for the first and then do nothing, and the existing id is returned.
    """
    if not alert_key:
        raise ValueError("alert_key is required")
    existing = conn.execute(
        text("SELECT id FROM incidents WHERE alert_key = :key"), {"key": alert_key}
    ).scalar()
    if existing is not None:
        return int(existing)
    incident_id, _ = declare_incident(
        conn,
        title=title,
        severity=severity,
        at=at,
        actor=actor,
        alert_key=alert_key,
        rule_id=rule_id,
    )
    return incident_id


def link_alert(conn: Connection, *, incident_id: int, alert_key: str, at: datetime) -> bool:
    """Link one more alert to an incident (its transitions then reach the timeline)."""
    done = conn.execute(
        text(
            """INSERT INTO incident_alerts (incident_id, alert_key, linked_at)
               VALUES (:id, :key, :at) ON CONFLICT DO NOTHING"""
        ),
        {"id": incident_id, "key": alert_key, "at": at},
    ).rowcount
    return bool(done)


def record_timeline(
    conn: Connection,
    *,
    kind: str,
    at: datetime,
    actor: str | None,
    text: str,
    incident_id: int | None = None,
    alert_key: str | None = None,
    public: bool = False,
    request_key: str | None = None,
) -> int:
    """Append one timeline entry; returns how many rows were added.

    With ``incident_id`` the entry goes to that incident; with ``alert_key`` to every OPEN
    incident linked to that alert (0 rows when none is). ``kind`` is a short lower-case word
    ("note", "phase", "status_update", "alert.firing", "quarantine", "runbook" ...).
    ``public`` entries (status updates) are the only ones the public status page shows.
    A repeated ``request_key`` (with ``incident_id``) adds nothing and returns 0.
    """
    if incident_id is None and alert_key is None:
        raise ValueError("record_timeline needs an incident_id or an alert_key")
    params = {
        "kind": kind,
        "at": _aware(at),
        "actor": actor,
        "text": _clip(str(text), MAX_TIMELINE_TEXT),
        "public": public,
    }
    if incident_id is not None:
        sql = """INSERT INTO incident_timeline (incident_id, at, kind, actor, text, public,
                     request_key)
                 VALUES (:id, :at, :kind, :actor, :text, :public, :req)
                 ON CONFLICT DO NOTHING"""
        return conn.execute(_t(sql), {**params, "id": incident_id, "req": request_key}).rowcount
    sql = """INSERT INTO incident_timeline (incident_id, at, kind, actor, text, public)
             SELECT i.id, :at, :kind, :actor, :text, :public
             FROM incidents i JOIN incident_alerts l ON l.incident_id = i.id
             WHERE l.alert_key = :key AND i.closed_at IS NULL"""
    return conn.execute(_t(sql), {**params, "key": alert_key}).rowcount


def record_timeline_open(
    conn: Connection, *, kind: str, at: datetime, actor: str | None, text: str
) -> int:
    """Append one entry to every open incident (quarantines made while incidents are open)."""
    sql = """INSERT INTO incident_timeline (incident_id, at, kind, actor, text, public)
             SELECT id, :at, :kind, :actor, :text, false FROM incidents
             WHERE closed_at IS NULL"""
    return conn.execute(
        _t(sql),
        {"at": _aware(at), "kind": kind, "actor": actor, "text": _clip(text, MAX_TIMELINE_TEXT)},
    ).rowcount


def get_incident(
    conn: Connection, *, incident_id: int, for_update: bool = False
) -> Incident | None:
    sql = "SELECT * FROM incidents WHERE id = :id"
    if for_update:
        sql = "SELECT * FROM incidents WHERE id = :id FOR UPDATE"
    row = conn.execute(_t(sql), {"id": incident_id}).mappings().first()
    return _incident(row) if row is not None else None


def list_incidents(
    conn: Connection, *, open_only: bool = False, limit: int = 200
) -> list[Incident]:
    """Open incidents first (worst severity, then newest), then closed ones, newest first."""
    where = "WHERE closed_at IS NULL" if open_only else ""
    rows = conn.execute(
        _t(
            f"""SELECT * FROM incidents {where}
                ORDER BY (closed_at IS NULL) DESC, severity, declared_at DESC, id DESC
                LIMIT :limit"""  # noqa: S608 - where is one of two constants
        ),
        {"limit": max(1, min(limit, 1000))},
    ).mappings()
    return [_incident(r) for r in rows]


CLOSED_SCOPE = "incidents.closed"
_CLOSED_FIELDS = {"closed_at": Field.DATETIME, "id": Field.ID}


@dataclass(frozen=True)
class ClosedPage:
    """One page of closed incidents, newest closed first; ``next_cursor`` None on the last."""

    incidents: list[Incident]
    next_cursor: str | None


def page_closed_incidents(
    conn: Connection, *, size: int = 50, cursor: str | None = None
) -> ClosedPage:
    """Closed incidents by (closed_at, id) descending, ``size`` (<= 200) per page, keyset paged
    with a signed cursor (dashboard.data.keyset): every page costs one index range scan however
    many incidents have been closed. A bad cursor raises InvalidQuery."""
    size = max(1, min(int(size), 200))
    binding = {"size": size}
    params: dict[str, Any] = {"limit": size + 1}
    seek = ""
    if cursor is not None:
        at = decode_cursor(cursor, scope=CLOSED_SCOPE, binding=binding, fields=_CLOSED_FIELDS)
        params.update(at)
        seek = "AND (closed_at, id) < (:closed_at, :id)"
    rows = list(
        conn.execute(
            _t(
                f"""SELECT * FROM incidents WHERE closed_at IS NOT NULL {seek}
                    ORDER BY closed_at DESC, id DESC LIMIT :limit"""  # noqa: S608 - constant
            ),
            params,
        ).mappings()
    )
    found = [_incident(r) for r in rows[:size]]
    following = None
    if len(rows) > size:
        last = found[-1]
        following = encode_cursor(
            scope=CLOSED_SCOPE,
            binding=binding,
            position={"closed_at": last.closed_at, "id": last.id},
        )
    return ClosedPage(found, following)


def list_timeline(
    conn: Connection, *, incident_id: int, public_only: bool = False, limit: int = 1000
) -> list[TimelineEntry]:
    where = " AND public" if public_only else ""
    rows = conn.execute(
        _t(
            f"""SELECT * FROM incident_timeline WHERE incident_id = :id{where}
                ORDER BY at, id LIMIT :limit"""  # noqa: S608 - where is one of two constants
        ),
        {"id": incident_id, "limit": limit},
    ).mappings()
    return [
        TimelineEntry(
            id=int(r["id"]),
            incident_id=int(r["incident_id"]),
            at=r["at"],
            kind=str(r["kind"]),
            actor=r["actor"],
            text=str(r["text"]),
            public=bool(r["public"]),
        )
        for r in rows
    ]


def update_incident(conn: Connection, *, incident_id: int, version: int, **values: Any) -> bool:
    """Set ``values`` (column names from the allow-list) and bump the version, if unchanged."""
    allowed = {
        "phase",
        "severity",
        "commander",
        "comms_lead",
        "acknowledged_at",
        "resolved_at",
        "closed_at",
        "closed_by",
        "title",
    }
    bad = set(values) - allowed
    if bad:
        raise ValueError(f"not an incident column: {sorted(bad)}")
    sets = ", ".join(f"{k} = :{k}" for k in values)
    done = conn.execute(
        _t(
            f"""UPDATE incidents SET {sets}, version = version + 1
                WHERE id = :id AND version = :version"""  # noqa: S608 - allow-listed names
        ),
        {**values, "id": incident_id, "version": version},
    ).rowcount
    return bool(done)


# ----------------------------------------------------------------------------- postmortem


@dataclass(frozen=True)
class StoredPostmortem:
    postmortem: Postmortem
    version: int
    updated_by: str | None
    updated_at: datetime | None


def _items(raw: Any) -> tuple[ActionItem, ...]:
    items = raw if isinstance(raw, list) else json.loads(raw or "[]")
    out = []
    for i in items:
        due = i.get("due")
        out.append(
            ActionItem(
                text=str(i.get("text", "")),
                owner=str(i.get("owner", "")),
                due=date.fromisoformat(due) if due else None,
            )
        )
    return tuple(out)


def get_postmortem(
    conn: Connection, *, incident_id: int, for_update: bool = False
) -> StoredPostmortem:
    """The postmortem of an incident (an empty one, version 0, when none was written)."""
    sql = "SELECT * FROM incident_postmortems WHERE incident_id = :id"
    if for_update:
        sql = "SELECT * FROM incident_postmortems WHERE incident_id = :id FOR UPDATE"
    row = conn.execute(_t(sql), {"id": incident_id}).mappings().first()
    if row is None:
        return StoredPostmortem(Postmortem(), 0, None, None)
    return StoredPostmortem(
        Postmortem(
            summary=str(row["summary"]),
            impact=str(row["impact"]),
            root_cause=str(row["root_cause"]),
            action_items=_items(row["action_items"]),
        ),
        int(row["version"]),
        row["updated_by"],
        row["updated_at"],
    )


def record_postmortem(
    conn: Connection, *, incident_id: int, postmortem: Postmortem, actor: str, at: datetime
) -> int:
    """Insert or replace the postmortem; returns its new version."""
    items = [
        {"text": i.text, "owner": i.owner, "due": i.due.isoformat() if i.due else None}
        for i in postmortem.action_items
    ]
    version = conn.execute(
        _t(
            """INSERT INTO incident_postmortems AS p (incident_id, summary, impact, root_cause,
                   action_items, updated_by, updated_at, version)
               VALUES (:id, :summary, :impact, :cause, CAST(:items AS jsonb), :by, :at, 1)
               ON CONFLICT (incident_id) DO UPDATE SET summary = :summary, impact = :impact,
                   root_cause = :cause, action_items = CAST(:items AS jsonb), updated_by = :by,
                   updated_at = :at, version = p.version + 1
               RETURNING version"""
        ),
        {
            "id": incident_id,
            "summary": postmortem.summary,
            "impact": postmortem.impact,
            "cause": postmortem.root_cause,
            "items": json.dumps(items),
            "by": actor,
            "at": at,
        },
    ).scalar_one()
    return int(version)


# ----------------------------------------------------------------------------- MTTA / MTTR


def summarize_incident_times(
    conn: Connection, *, start: datetime, end: datetime
) -> list[IncidentTimes]:
    """MTTA and MTTR per severity for incidents detected in [start, end).

    MTTA runs from detection to the first acknowledgement (a commander assigned or the
    incident moved past detect), MTTR from detection to the resolve phase.
    """
    if _aware(end) <= _aware(start):
        raise ValueError("the end of the period must be after its start")
    rows = conn.execute(
        _t(
            """SELECT severity, detected_at, acknowledged_at, resolved_at FROM incidents
               WHERE detected_at >= :start AND detected_at < :end"""
        ),
        {"start": start, "end": end},
    ).all()
    return summarize_times((str(r[0]), r[1], r[2], r[3]) for r in rows)


def count_open_incidents(conn: Connection) -> int:
    return int(
        conn.execute(_t("SELECT count(*) FROM incidents WHERE closed_at IS NULL")).scalar_one()
    )


# ----------------------------------------------------------------------------- public status


@dataclass(frozen=True)
class PublicUpdate:
    at: datetime
    text: str


@dataclass(frozen=True)
class PublicIncident:
    """What the public status page may show of an open incident: no title (titles are
    internal and may name agents), no notes, no people; only public status updates."""

    id: int
    severity: str
    phase: str
    declared_at: datetime
    updates: tuple[PublicUpdate, ...]


def list_public_incidents(conn: Connection, *, limit: int = 20) -> list[PublicIncident]:
    """Open incidents, worst first, each with its public status updates (newest first)."""
    rows = conn.execute(
        _t(
            """SELECT id, severity, phase, declared_at FROM incidents WHERE closed_at IS NULL
               ORDER BY severity, declared_at DESC LIMIT :limit"""
        ),
        {"limit": limit},
    ).all()
    if not rows:
        return []
    updates: dict[int, list[PublicUpdate]] = {int(r[0]): [] for r in rows}
    for iid, at, said in conn.execute(
        _t(
            """SELECT incident_id, at, text FROM incident_timeline
               WHERE public AND incident_id = ANY(:ids) ORDER BY at DESC, id DESC LIMIT 500"""
        ),
        {"ids": list(updates)},
    ).all():
        updates[int(iid)].append(PublicUpdate(at, str(said)))
    return [
        PublicIncident(int(r[0]), str(r[1]), str(r[2]), r[3], tuple(updates[int(r[0])][:20]))
        for r in rows
    ]


def list_agent_names_in(conn: Connection, *, text: str, limit: int = 5) -> list[str]:
    """Agent names (3+ characters) that occur in ``text``, case-insensitively.

    Public text must not name agents; one scan of the registry, run only when a status
    update is posted (an action), never by the public page.
    """
    rows = conn.execute(
        _t(
            """SELECT DISTINCT name FROM agents
               WHERE length(name) >= 3 AND strpos(lower(:text), lower(name)) > 0
               LIMIT :limit"""
        ),
        {"text": text, "limit": limit},
    ).scalars()
    return [str(r) for r in rows]


# Values the pages and the worker's refresh-ahead keep in the shared cache (rebuilt by name).
for _cls in (
    Incident,
    TimelineEntry,
    IncidentTimes,
    StoredPostmortem,
    Postmortem,
    ActionItem,
    PublicIncident,
    PublicUpdate,
    ClosedPage,
):
    register(_cls)
