"""Incident actions: declare, change phase, assign roles, note, status update, postmortem, close.

Each goes through ``run_authorised`` (permission from the one table, audit row in the same
transaction). Changes to the incident row lock it and carry the version the user saw
(``expected_version``), so a concurrent change is a 'conflict', never a lost update; a form
submitted twice (same ``request_key``) records once; asking for the state already in effect
is a 'noop'.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, Engine

from dashboard.actions.base import ActionResult, Actor, audit_change, now_utc, run_authorised
from dashboard.data.incidents import (
    Incident,
    TimelineEntry,
    declare_incident,
    get_incident,
    get_postmortem,
    list_agent_names_in,
    list_timeline,
    record_postmortem,
    record_timeline,
    update_incident,
)
from dashboard.data.notifications import enqueue_notification
from dashboard.domain.incidents import (
    ActionItem,
    Phase,
    Postmortem,
    Severity,
    allowed_next,
    close_problem,
    md_block,
    md_escape,
)
from dashboard.domain.permissions import Role

INCIDENT_TOPICS = ("incidents",)
MAX_TEXT = 4000
MAX_TITLE = 200
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")


def _valid_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def _clean_text(value: object, what: str, limit: int = MAX_TEXT, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise ValueError(f"{what} is required.")
    cleaned = value.strip()
    if len(cleaned) > limit:
        raise ValueError(f"{what} may have at most {limit:,} characters.")
    return cleaned


def _clean_user(value: object, what: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not _USERNAME.match(value.strip()):
        raise ValueError(f"The {what} must be a console username.")
    return value.strip()


def _locked(
    conn: Connection, incident_id: object, expected_version: int | None
) -> Incident | ActionResult:
    if not _valid_id(incident_id):
        return ActionResult("invalid", "An incident id is a positive whole number.")
    assert isinstance(incident_id, int)
    incident = get_incident(conn, incident_id=incident_id, for_update=True)
    if incident is None:
        return ActionResult("not_found", f"There is no incident #{incident_id}.")
    if expected_version is not None and incident.version != expected_version:
        return ActionResult(
            "conflict",
            f"Incident #{incident_id} was changed by someone else since you opened it "
            f"(it is now in {incident.phase}). Reload and try again.",
        )
    return incident


def _target(incident_id: object) -> tuple[str, str]:
    return ("incident", str(incident_id))


def declare(
    engine: Engine,
    actor: Actor,
    *,
    title: str,
    severity: str,
    request_key: str,
    note: str | None = None,
    alert_key: str | None = None,
    rule_id: str | None = None,
    now: datetime | None = None,
) -> ActionResult:
    """Declare an incident by hand (phase detect). ``request_key`` makes a double submit one.

    With ``alert_key`` the incident is linked to that alert (its transitions and
    acknowledgements then reach the timeline); one incident per alert, as for the worker's.
    """

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        if severity not in tuple(Severity):
            return ActionResult("invalid", "Choose a severity P1 to P4.")
        sev = Severity(severity)
        try:
            name = _clean_text(title, "A title", MAX_TITLE)
            key = _clean_text(request_key, "A request key", 100)
            first = _clean_text(note or "", "The note", required=False)
            linked = _clean_text(alert_key or "", "The alert key", 500, required=False) or None
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        at = now_utc(now)
        incident_id, created = declare_incident(
            conn,
            title=name,
            severity=sev.value,
            at=at,
            actor=actor.username,
            request_key=key,
            alert_key=linked,
            rule_id=rule_id if linked else None,
        )
        if not created:
            what = "this alert already has incident" if linked else "already declared: incident"
            return ActionResult("noop", f"Nothing new: {what} #{incident_id}.")
        if first:
            record_timeline(
                conn, kind="note", at=at, actor=actor.username, text=first, incident_id=incident_id
            )
        audit_change(
            conn,
            actor,
            roles,
            "incident.declare",
            target=_target(incident_id),
            after={"severity": sev.value, "title": name, "alert_key": linked},
        )
        return ActionResult("changed", f"Incident #{incident_id} ({sev}) declared.", count=1)

    return run_authorised(
        engine, actor, "incident.declare", body, target=("incident", None), topics=INCIDENT_TOPICS
    )


def set_phase(
    engine: Engine,
    actor: Actor,
    incident_id: int,
    phase: str,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> ActionResult:
    """Move an open incident to ``phase`` if the process allows it from where it is."""

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        try:
            to = Phase(phase)
        except ValueError:
            return ActionResult("invalid", "Choose one of the seven phases.")
        found = _locked(conn, incident_id, expected_version)
        if isinstance(found, ActionResult):
            return found
        if not found.is_open:
            return ActionResult("invalid", f"Incident #{found.id} is closed.")
        if found.phase == to:
            return ActionResult("noop", f"Incident #{found.id} is already in {to}.")
        if to not in allowed_next(found.phase):
            options = ", ".join(allowed_next(found.phase)) or "none"
            return ActionResult(
                "invalid",
                f"An incident in {found.phase} cannot move to {to} (allowed: {options}).",
            )
        at = now_utc(now)
        values: dict[str, object] = {"phase": to.value}
        if found.acknowledged_at is None:
            values["acknowledged_at"] = at
        order = list(Phase)
        if order.index(to) >= order.index(Phase.RESOLVE) and found.resolved_at is None:
            values["resolved_at"] = at
        if order.index(to) < order.index(Phase.RESOLVE) and found.resolved_at is not None:
            values["resolved_at"] = None  # it came back: the resolution did not hold
        update_incident(conn, incident_id=found.id, version=found.version, **values)
        record_timeline(
            conn,
            kind="phase",
            at=at,
            actor=actor.username,
            text=f"Phase {found.phase} -> {to}",
            incident_id=found.id,
        )
        audit_change(
            conn,
            actor,
            roles,
            "incident.set_phase",
            target=_target(found.id),
            before={"phase": found.phase.value, "version": found.version},
            after={"phase": to.value, "version": found.version + 1},
        )
        return ActionResult("changed", f"Incident #{found.id} moved to {to}.", count=1)

    return run_authorised(
        engine,
        actor,
        "incident.set_phase",
        body,
        target=_target(incident_id),
        topics=INCIDENT_TOPICS,
    )


def assign(
    engine: Engine,
    actor: Actor,
    incident_id: int,
    *,
    commander: str | None,
    comms_lead: str | None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> ActionResult:
    """Set the incident commander and the communications lead (None or '' clears one)."""

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        try:
            cmd = _clean_user(commander, "commander")
            comms = _clean_user(comms_lead, "communications lead")
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        found = _locked(conn, incident_id, expected_version)
        if isinstance(found, ActionResult):
            return found
        if not found.is_open:
            return ActionResult("invalid", f"Incident #{found.id} is closed.")
        if (found.commander, found.comms_lead) == (cmd, comms):
            return ActionResult("noop", "Those are already the incident's roles.")
        at = now_utc(now)
        values: dict[str, object] = {"commander": cmd, "comms_lead": comms}
        if cmd is not None and found.acknowledged_at is None:
            values["acknowledged_at"] = at
        update_incident(conn, incident_id=found.id, version=found.version, **values)
        record_timeline(
            conn,
            kind="roles",
            at=at,
            actor=actor.username,
            text=f"Commander: {cmd or 'none'}; communications lead: {comms or 'none'}",
            incident_id=found.id,
        )
        audit_change(
            conn,
            actor,
            roles,
            "incident.assign",
            target=_target(found.id),
            before={"commander": found.commander, "comms_lead": found.comms_lead},
            after={"commander": cmd, "comms_lead": comms, "version": found.version + 1},
        )
        return ActionResult("changed", f"Incident #{found.id} roles updated.", count=1)

    return run_authorised(
        engine,
        actor,
        "incident.assign",
        body,
        target=_target(incident_id),
        topics=INCIDENT_TOPICS,
    )


def _entry(
    engine: Engine,
    actor: Actor,
    action: str,
    incident_id: int,
    text: str,
    request_key: str,
    *,
    public: bool,
    now: datetime | None,
) -> ActionResult:
    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        try:
            said = _clean_text(text, "The text")
            key = _clean_text(request_key, "A request key", 100)
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        found = _locked(conn, incident_id, None)
        if isinstance(found, ActionResult):
            return found
        if public and (named := list_agent_names_in(conn, text=said)):
            return ActionResult(
                "invalid",
                f"Status updates are public and must not name agents; this one names "
                f"{len(named)}. Rewrite it without agent names.",
            )
        at = now_utc(now)
        kind = "status_update" if public else "note"
        added = record_timeline(
            conn,
            kind=kind,
            at=at,
            actor=actor.username,
            text=said,
            incident_id=found.id,
            public=public,
            request_key=f"{found.id}:{key}",
        )
        if not added:
            return ActionResult("noop", "This was already recorded.")
        if public:
            enqueue_notification(
                conn,
                dedupe_key=f"incident:{found.id}:status:{key}",
                severity=_notify_severity(found.severity),
                group_key=f"incident:{found.id}",
                subject=f"[{found.severity}] Incident #{found.id} update: {found.title}"[:200],
                body=said,
                source="incidents",
                audience="broadcast",
                link="/status",
                at=at,
            )
        audit_change(conn, actor, roles, action, target=_target(found.id), after={"kind": kind})
        what = "Status update posted and sent" if public else "Note added"
        return ActionResult("changed", f"{what} on incident #{found.id}.", count=1)

    return run_authorised(
        engine, actor, action, body, target=_target(incident_id), topics=INCIDENT_TOPICS
    )


def _notify_severity(severity: Severity) -> str:
    if severity in (Severity.P1, Severity.P2):
        return severity.value
    return "warning" if severity == Severity.P3 else "info"


def add_note(
    engine: Engine,
    actor: Actor,
    incident_id: int,
    text: str,
    *,
    request_key: str,
    now: datetime | None = None,
) -> ActionResult:
    """An internal note on the timeline (never on the public status page)."""
    return _entry(
        engine, actor, "incident.note", incident_id, text, request_key, public=False, now=now
    )


def post_status_update(
    engine: Engine,
    actor: Actor,
    incident_id: int,
    text: str,
    *,
    request_key: str,
    now: datetime | None = None,
) -> ActionResult:
    """A public status update: on the timeline, the status page, and sent to contact points."""
    return _entry(
        engine,
        actor,
        "incident.status_update",
        incident_id,
        text,
        request_key,
        public=True,
        now=now,
    )


@dataclass(frozen=True)
class ActionItemInput:
    text: str
    owner: str
    due: date | None


def save_postmortem(
    engine: Engine,
    actor: Actor,
    incident_id: int,
    *,
    summary: str,
    impact: str,
    root_cause: str,
    action_items: Sequence[ActionItemInput],
    expected_version: int | None = None,
    now: datetime | None = None,
) -> ActionResult:
    """Write the postmortem (a draft may be incomplete). ``expected_version`` is the postmortem's
    version the editor started from (0 for a new one)."""

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        try:
            items = tuple(
                ActionItem(
                    _clean_text(i.text, "An action item"),
                    (_clean_user(i.owner, "action item owner") or ""),
                    i.due,
                )
                for i in action_items
                if (i.text or "").strip()
            )
            pm = Postmortem(
                _clean_text(summary, "The summary", required=False),
                _clean_text(impact, "The impact", required=False),
                _clean_text(root_cause, "The root cause", required=False),
                items,
            )
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        found = _locked(conn, incident_id, None)
        if isinstance(found, ActionResult):
            return found
        stored = get_postmortem(conn, incident_id=found.id, for_update=True)
        if expected_version is not None and stored.version != expected_version:
            return ActionResult(
                "conflict",
                "Someone else saved this postmortem since you opened it. Reload and try again.",
            )
        if stored.postmortem == pm:
            return ActionResult("noop", "The postmortem already says this.")
        at = now_utc(now)
        version = record_postmortem(
            conn, incident_id=found.id, postmortem=pm, actor=actor.username, at=at
        )
        record_timeline(
            conn,
            kind="postmortem",
            at=at,
            actor=actor.username,
            text=f"Postmortem saved (version {version})",
            incident_id=found.id,
        )
        audit_change(
            conn,
            actor,
            roles,
            "incident.postmortem",
            target=_target(found.id),
            before={"version": stored.version},
            after={"version": version, "missing": pm.missing()},
        )
        return ActionResult("changed", f"Postmortem of incident #{found.id} saved.", count=1)

    return run_authorised(
        engine,
        actor,
        "incident.postmortem",
        body,
        target=_target(incident_id),
        topics=INCIDENT_TOPICS,
    )


def close(
    engine: Engine,
    actor: Actor,
    incident_id: int,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> ActionResult:
    """Close a resolved incident; a P1/P2 needs the review phase and a complete postmortem."""

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        found = _locked(conn, incident_id, expected_version)
        if isinstance(found, ActionResult):
            return found
        if not found.is_open:
            return ActionResult("noop", f"Incident #{found.id} is already closed.")
        missing = get_postmortem(conn, incident_id=found.id).postmortem.missing()
        problem = close_problem(found.severity, found.phase, missing)
        if problem is not None:
            return ActionResult("invalid", problem)
        at = now_utc(now)
        update_incident(
            conn,
            incident_id=found.id,
            version=found.version,
            closed_at=at,
            closed_by=actor.username,
        )
        record_timeline(
            conn,
            kind="closed",
            at=at,
            actor=actor.username,
            text="Incident closed",
            incident_id=found.id,
        )
        audit_change(
            conn,
            actor,
            roles,
            "incident.close",
            target=_target(found.id),
            before={"phase": found.phase.value, "version": found.version},
            after={"closed": True, "version": found.version + 1},
        )
        return ActionResult("changed", f"Incident #{found.id} closed.", count=1)

    return run_authorised(
        engine, actor, "incident.close", body, target=_target(incident_id), topics=INCIDENT_TOPICS
    )


def postmortem_markdown(engine: Engine, incident_id: int) -> str | None:
    """The postmortem as Markdown (untrusted text escaped), or None for an unknown incident."""
    with engine.connect() as conn:
        incident = get_incident(conn, incident_id=incident_id)
        if incident is None:
            return None
        pm = get_postmortem(conn, incident_id=incident_id).postmortem
        timeline = list_timeline(conn, incident_id=incident_id)
    return markdown_for(incident, pm, timeline)


def markdown_for(incident: Incident, pm: Postmortem, timeline: Sequence[TimelineEntry]) -> str:
    """The postmortem document: every user-written text escaped (paragraphs kept)."""
    lines = [
        f"# Postmortem: incident #{incident.id} ({incident.severity}) {md_escape(incident.title)}",
        "",
        f"- Declared: {_when(incident.declared_at)} by {md_escape(incident.declared_by)}",
        f"- Commander: {md_escape(incident.commander or 'none')}; communications lead: "
        f"{md_escape(incident.comms_lead or 'none')}",
        f"- Resolved: {_when(incident.resolved_at)}; closed: {_when(incident.closed_at)}",
        "",
        "## Summary",
        "",
        md_block(pm.summary) or "_not written_",
        "",
        "## Impact",
        "",
        md_block(pm.impact) or "_not written_",
        "",
        "## Timeline",
        "",
    ]
    lines += [
        f"- {e.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC · {md_escape(e.kind)} · "
        f"{md_escape(e.actor or 'system')}: {md_escape(e.text)}"
        for e in timeline
    ]
    lines += ["", "## Root cause", "", md_block(pm.root_cause) or "_not written_", ""]
    lines += ["## Action items", "", "| Action | Owner | Due |", "|---|---|---|"]
    lines += [
        f"| {md_escape(i.text)} | {md_escape(i.owner or '-')} | {i.due or '-'} |"
        for i in pm.action_items
    ]
    return "\n".join(lines) + "\n"


def _when(at: datetime | None) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if at is not None else "not yet"
