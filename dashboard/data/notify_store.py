"""Contact points, delivery planning and the delivery log (SQL behind the notification worker).

Exactly once: the planner reads pending outbox rows ``FOR UPDATE SKIP LOCKED`` under a
transaction-level advisory lock and marks them dispatched in the same transaction; a delivery
is claimed ``FOR UPDATE SKIP LOCKED`` and stays locked while it is sent, so a second worker
skips it and never sends it again. The ``secret`` column is read only by
:func:`claim_due_delivery` and :func:`get_contact_point_secret` (sending), never by listings.
It holds the secret encrypted (``dashboard.integrations.secret_box``): every write goes
through :func:`_sealed`, every read through ``secret_box.decrypt``; rows written in plaintext
before encryption existed are sealed by :func:`encrypt_plaintext_secrets` (each notify cycle).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from dashboard.data.notifications import is_resolution
from dashboard.data.oncall import get_on_call
from dashboard.domain.notify_rules import (
    PERSON_AUDIENCES,
    BusinessHours,
    GroupedMessage,
    OutboxItem,
    backoff_s,
    check_contact_point,
    group_items,
    is_held,
    is_retryable,
    mask_secret,
    target_audiences,
)
from dashboard.integrations import secret_box
from dashboard.integrations.notify_senders import Outgoing, SendResult, Timeouts, send

log = logging.getLogger(__name__)

PLAN_LOCK_ID = 0x0CA_0106  # one planner at a time, whatever the number of workers
MAX_PLAN_ROWS = 5000


@dataclass(frozen=True)
class ContactPoint:
    """A contact point as the console shows it: never the secret, only its masked hint."""

    id: int
    name: str
    kind: str
    audiences: tuple[str, ...]
    config: Mapping[str, Any]
    secret_hint: str
    enabled: bool
    managed_by: str
    version: int
    updated_at: datetime
    updated_by: str


_CP_COLUMNS = (
    "id, name, kind, audiences, config, secret_hint, enabled, managed_by, version, "
    "updated_at, updated_by"
)


def _contact_point(row: Any) -> ContactPoint:
    return ContactPoint(
        id=int(row["id"]),
        name=str(row["name"]),
        kind=str(row["kind"]),
        audiences=tuple(row["audiences"] or ()),
        config=dict(row["config"] or {}),
        secret_hint=str(row["secret_hint"]),
        enabled=bool(row["enabled"]),
        managed_by=str(row["managed_by"]),
        version=int(row["version"]),
        updated_at=row["updated_at"],
        updated_by=str(row["updated_by"]),
    )


def list_contact_points(conn: Connection) -> list[ContactPoint]:
    sql = f"SELECT {_CP_COLUMNS} FROM contact_points ORDER BY name, id"  # noqa: S608 - constant
    rows = conn.execute(text(sql))
    return [_contact_point(r) for r in rows.mappings()]


def get_contact_point(
    conn: Connection, *, contact_point_id: int, for_update: bool = False
) -> ContactPoint | None:
    lock = " FOR UPDATE" if for_update else ""
    row = (
        conn.execute(
            text(f"SELECT {_CP_COLUMNS} FROM contact_points WHERE id = :id{lock}"),  # noqa: S608
            {"id": contact_point_id},
        )
        .mappings()
        .first()
    )
    return _contact_point(row) if row is not None else None


def _sealed(secret: str) -> str:
    """What the ``secret`` column stores for ``secret``: never the secret itself."""
    return secret_box.encrypt(secret)


def get_contact_point_secret(conn: Connection, *, contact_point_id: int) -> str:
    """The stored secret, for sending only (test-send, delivery). Never show it."""
    value = conn.execute(
        text("SELECT secret FROM contact_points WHERE id = :id"), {"id": contact_point_id}
    ).scalar_one_or_none()
    return secret_box.decrypt(str(value or ""))


def encrypt_plaintext_secrets(conn: Connection) -> int:
    """Seal the secrets still stored in plaintext (rows from before encryption); how many.

    Without a usable key nothing changes (logged): delivery must not stop for it."""
    problem = secret_box.key_problem()
    if problem is not None:
        log.error("contact-point secrets left as they are: %s", problem)
        return 0
    rows = conn.execute(
        text(
            "SELECT id, secret FROM contact_points WHERE secret <> '' AND secret NOT LIKE :p "
            "FOR UPDATE SKIP LOCKED"
        ),
        {"p": secret_box.PREFIX + "%"},
    ).all()
    for row_id, plain in rows:
        conn.execute(
            text("UPDATE contact_points SET secret = :s WHERE id = :id"),
            {"s": _sealed(str(plain)), "id": row_id},
        )
    return len(rows)


def insert_contact_point(
    conn: Connection,
    *,
    name: str,
    kind: str,
    audiences: Sequence[str],
    config: Mapping[str, Any],
    secret: str,
    secret_hint: str,
    by: str,
    now: datetime,
    managed_by: str = "console",
) -> int:
    return int(
        conn.execute(
            text(
                """INSERT INTO contact_points (name, kind, audiences, config, secret, secret_hint,
                       managed_by, created_at, updated_at, updated_by)
                   VALUES (:name, :kind, :aud, CAST(:config AS jsonb), :secret, :hint,
                       :managed_by, :now, :now, :by)
                   RETURNING id"""
            ),
            {
                "name": name,
                "kind": kind,
                "aud": list(audiences),
                "config": json.dumps(dict(config)),
                "secret": _sealed(secret),
                "hint": secret_hint,
                "managed_by": managed_by,
                "now": now,
                "by": by,
            },
        ).scalar_one()
    )


def update_contact_point(
    conn: Connection,
    *,
    contact_point_id: int,
    expected_version: int,
    fields: Mapping[str, Any],
    by: str,
    now: datetime,
) -> bool:
    """Change ``fields`` (name/audiences/config/secret/secret_hint/enabled) if the version
    still matches; False when someone else changed the row first (lost-update guard)."""
    allowed = {"name", "audiences", "config", "secret", "secret_hint", "enabled"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"cannot change {sorted(unknown)}")
    sets = []
    params: dict[str, Any] = {"id": contact_point_id, "v": expected_version, "by": by, "now": now}
    for name, value in fields.items():
        if name == "config":
            sets.append("config = CAST(:config AS jsonb)")
            params["config"] = json.dumps(dict(value))
        elif name == "audiences":
            sets.append("audiences = :audiences")
            params["audiences"] = list(value)
        elif name == "secret":
            sets.append("secret = :secret")
            params["secret"] = _sealed(str(value))
        else:
            sets.append(f"{name} = :{name}")
            params[name] = value
    sets += ["version = version + 1", "updated_at = :now", "updated_by = :by"]
    changed = conn.execute(
        text(
            f"UPDATE contact_points SET {', '.join(sets)} "  # noqa: S608 - names from allow-list
            "WHERE id = :id AND version = :v"
        ),
        params,
    ).rowcount
    return bool(changed)


# -- people -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    username: str
    email: str | None


def on_call_usernames(conn: Connection, *, at: datetime) -> dict[str, str | None]:
    """Who is on call at ``at``: {"oncall": primary, "secondary": ..., "manager": ...}.

    The rotation plus overrides, from ``dashboard.data.oncall.get_on_call`` (incidents branch).
    """
    who = get_on_call(conn, at=at)
    return {"oncall": who.primary, "secondary": who.secondary, "manager": who.manager}


def resolve_person(conn: Connection, *, audience: str, at: datetime) -> Person | None:
    """The person an audience names at ``at`` (None for broadcast or when nobody is on call)."""
    if audience not in PERSON_AUDIENCES:
        return None
    username = on_call_usernames(conn, at=at).get(audience)
    if not username:
        return None
    email = conn.execute(
        text("SELECT email FROM users WHERE username = :u"), {"u": username}
    ).scalar_one_or_none()
    return Person(username, str(email) if email else None)


# -- planning -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanResult:
    messages: int
    rows: int
    held: int
    deliveries: int
    skipped: bool = False
    unrouted: int = 0  # rows left pending: no enabled contact point serves their audience


def _insert_message(
    conn: Connection, msg: GroupedMessage, person: Person | None, now: datetime
) -> int:
    return int(
        conn.execute(
            text(
                """INSERT INTO notification_messages (group_key, severity, audience, event,
                       subject, body, link, recipient, row_count, created_at, alerts)
                   VALUES (:g, :s, :a, :e, :subj, :body, :link, :r, :n, :now,
                       CAST(:alerts AS jsonb)) RETURNING id"""
            ),
            {
                "g": msg.group_key,
                "s": msg.severity,
                "a": msg.audience,
                "e": msg.event,
                "subj": msg.subject,
                "body": msg.body,
                "link": msg.link,
                "r": person.username if person else None,
                "n": len(msg.row_ids),
                "now": now,
                "alerts": json.dumps(
                    [{"key": k, "event": e, "subject": subj} for k, e, subj in msg.alerts]
                ),
            },
        ).scalar_one()
    )


def plan_deliveries(conn: Connection, *, now: datetime, hours: BusinessHours) -> PlanResult:
    """Turn due outbox rows into grouped messages and one delivery per matching contact point.

    P2 rows outside business hours stay pending (held) and are released by a later cycle.
    """
    got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": PLAN_LOCK_ID})
    if not got.scalar_one():
        return PlanResult(0, 0, 0, 0, skipped=True)
    # Held P2 rows are left out in SQL, so that a long night of them never crowds the
    # P1 rows out of the batch.
    hold_p2 = is_held("P2", now, hours)
    rows = conn.execute(
        text(
            """SELECT id, dedupe_key, severity, group_key, subject, body, audience, link,
                      created_at, alert_key, event
               FROM notification_outbox
               WHERE status = 'pending' AND created_at <= :now
                 AND NOT (:hold AND severity = 'P2')
               ORDER BY created_at, id LIMIT :n FOR UPDATE SKIP LOCKED"""
        ),
        {"now": now, "n": MAX_PLAN_ROWS, "hold": hold_p2},
    ).mappings()
    held = 0
    if hold_p2:
        held = int(
            conn.execute(
                text(
                    "SELECT count(*) FROM notification_outbox"
                    " WHERE status = 'pending' AND severity = 'P2' AND created_at <= :now"
                ),
                {"now": now},
            ).scalar_one()
        )
    items = []
    for r in rows:
        resolved = is_resolution(str(r["dedupe_key"]))
        items.append(
            OutboxItem(
                id=int(r["id"]),
                dedupe_key=str(r["dedupe_key"]),
                severity=str(r["severity"]),
                group_key=str(r["group_key"]),
                subject=str(r["subject"]),
                body=str(r["body"]),
                audience=str(r["audience"]),
                link=r["link"],
                created_at=r["created_at"],
                resolved=resolved,
                alert_key=r["alert_key"],
                event="resolve" if resolved else str(r["event"]),
            )
        )
    points = [p for p in list_contact_points(conn) if p.enabled]
    deliveries = 0
    messages = group_items(items)
    unrouted = made = 0
    for msg in messages:
        wanted = target_audiences(msg.severity, msg.audience)
        targets = [p for p in points if wanted & set(p.audiences)]
        if msg.event == "acknowledge":
            # An acknowledgement is PagerDuty's business (it stops its escalation); the
            # console's other contact points are not told each time someone takes an alert.
            targets = [p for p in targets if p.kind == "pagerduty"]
            if not targets:
                _close_rows(conn, msg.row_ids, now)  # dispatched to nobody: nothing to do
                continue
        if msg.audience in ("secondary", "manager") and not any(
            msg.audience in p.audiences for p in targets
        ):
            # No contact point of its own: an escalation rides the on-call ones (the message
            # names the person), rather than reaching nobody who can act.
            targets += [p for p in points if "oncall" in p.audiences and p not in targets]
        if not targets:
            # Nowhere to send it yet: the rows stay in the outbox (never silently dropped) and
            # go out, grouped, once a contact point for their audience exists.
            unrouted += len(msg.row_ids)
            continue
        person = resolve_person(conn, audience=msg.audience, at=now)
        message_id = _insert_message(conn, msg, person, now)
        made += 1
        for point in targets:
            conn.execute(
                text(
                    """INSERT INTO notification_deliveries (message_id, contact_point_id,
                           next_attempt_at, created_at)
                       VALUES (:m, :c, :now, :now) ON CONFLICT DO NOTHING"""
                ),
                {"m": message_id, "c": point.id, "now": now},
            )
            deliveries += 1
        _close_rows(conn, msg.row_ids, now, message_id=message_id)
    return PlanResult(made, len(items) - unrouted, held, deliveries, unrouted=unrouted)


def _close_rows(
    conn: Connection,
    row_ids: Sequence[int],
    now: datetime,
    *,
    message_id: int | None = None,
) -> None:
    conn.execute(
        text(
            """UPDATE notification_outbox SET status = 'dispatched', message_id = :m,
                   dispatched_at = :now WHERE id = ANY(:ids)"""
        ),
        {"m": message_id, "now": now, "ids": list(row_ids)},
    )


# -- delivering ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DueDelivery:
    """A claimed delivery (row-locked by the claiming transaction) and what to send."""

    id: int
    attempts: int
    contact_point_id: int
    contact_point: str
    kind: str
    config: Mapping[str, Any]
    secret: str = field(repr=False)
    message_id: int
    group_key: str
    severity: str
    event: str
    subject: str
    body: str
    link: str | None
    recipient: str | None
    recipient_email: str | None
    created_at: datetime
    alerts: tuple[tuple[str, str, str], ...] = ()
    #: Why it cannot be sent at all (the stored secret does not decrypt with this key).
    problem: str | None = None


def fail_disabled_deliveries(conn: Connection, *, now: datetime) -> int:
    """Pending deliveries to a disabled contact point end as failed (not sent days later)."""
    return int(
        conn.execute(
            text(
                """UPDATE notification_deliveries d SET status = 'failed',
                       last_error = 'contact point disabled before delivery'
                   FROM contact_points c
                   WHERE d.contact_point_id = c.id AND d.status = 'pending' AND NOT c.enabled"""
            )
        ).rowcount
    )


def claim_due_delivery(
    conn: Connection, *, now: datetime, exclude: Sequence[int] = ()
) -> DueDelivery | None:
    """Lock the oldest due pending delivery that no other transaction holds; None when none."""
    row = (
        conn.execute(
            text(
                """SELECT d.id, d.attempts, c.id AS cp_id, c.name AS cp_name, c.kind, c.config,
                          c.secret, m.id AS message_id, m.group_key, m.severity, m.event,
                          m.subject, m.body, m.link, m.recipient, m.created_at, u.email,
                          m.alerts
                   FROM notification_deliveries d
                   JOIN contact_points c ON c.id = d.contact_point_id
                   JOIN notification_messages m ON m.id = d.message_id
                   LEFT JOIN users u ON u.username = m.recipient
                   WHERE d.status = 'pending' AND d.next_attempt_at <= :now AND c.enabled
                     AND d.report_id IS NULL  -- report PDFs: dashboard.reports.mailing
                     AND NOT (d.id = ANY(:exclude))
                   ORDER BY d.next_attempt_at, d.id
                   LIMIT 1 FOR UPDATE OF d SKIP LOCKED"""
            ),
            {"now": now, "exclude": list(exclude)},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    return due_delivery_from_row(row)


def due_delivery_from_row(row: Any, *, config: Mapping[str, Any] | None = None) -> DueDelivery:
    """A DueDelivery from a claim query's row (the columns of :func:`claim_due_delivery`);
    ``config`` replaces the contact point's stored one (the report mailing drops its list)."""
    problem = None
    try:
        secret = secret_box.decrypt(str(row["secret"]))
    except secret_box.SecretKeyError as exc:
        secret, problem = "", str(exc)
    return DueDelivery(
        id=int(row["id"]),
        attempts=int(row["attempts"]),
        contact_point_id=int(row["cp_id"]),
        contact_point=str(row["cp_name"]),
        kind=str(row["kind"]),
        config=dict(row["config"] or {}) if config is None else dict(config),
        secret=secret,
        message_id=int(row["message_id"]),
        group_key=str(row["group_key"]),
        severity=str(row["severity"]),
        event=str(row["event"]),
        subject=str(row["subject"]),
        body=str(row["body"]),
        link=row["link"],
        recipient=row["recipient"],
        recipient_email=row["email"],
        created_at=row["created_at"],
        alerts=tuple(
            (str(a["key"]), str(a["event"]), str(a.get("subject") or ""))
            for a in (row["alerts"] or [])
        ),
        problem=problem,
    )


def record_attempt(
    conn: Connection,
    *,
    delivery: DueDelivery,
    ok: bool,
    status_code: int | None,
    error: str | None,
    duration_ms: float,
    at: datetime,
    max_attempts: int,
    retryable: bool = True,
    backoff_base_s: float,
    backoff_cap_s: float,
) -> str:
    """Log the attempt and move the delivery on: "sent", "retry" or "failed"."""
    attempts = delivery.attempts + 1
    conn.execute(
        text(
            """INSERT INTO notification_attempts (delivery_id, attempt, at, ok, status_code,
                   error, duration_ms) VALUES (:d, :n, :at, :ok, :code, :err, :ms)"""
        ),
        {
            "d": delivery.id,
            "n": attempts,
            "at": at,
            "ok": ok,
            "code": status_code,
            "err": error,
            "ms": duration_ms,
        },
    )
    if ok:
        status, next_at = "sent", at
    elif attempts >= max_attempts or not retryable or not is_retryable(status_code):
        status, next_at = "failed", at
    else:
        status = "pending"
        next_at = at + timedelta(
            seconds=backoff_s(attempts, base_s=backoff_base_s, cap_s=backoff_cap_s)
        )
    conn.execute(
        text(
            """UPDATE notification_deliveries SET status = :s, attempts = :n,
                   next_attempt_at = :next, last_status_code = :code, last_error = :err,
                   sent_at = CASE WHEN :ok THEN CAST(:at AS timestamptz) ELSE sent_at END
               WHERE id = :d"""
        ),
        {
            "s": status,
            "n": attempts,
            "next": next_at,
            "code": status_code,
            "err": error,
            "ok": ok,
            "at": at,
            "d": delivery.id,
        },
    )
    return "sent" if ok else ("retry" if status == "pending" else "failed")


# -- what the page shows ------------------------------------------------------------------


def list_delivery_log(conn: Connection, *, limit: int = 200) -> pd.DataFrame:
    """The newest delivery attempts: time, contact point, message, attempt, outcome."""
    rows = conn.execute(
        text(
            """SELECT a.at, c.name AS contact_point, c.kind, m.severity, m.subject,
                      m.recipient, a.attempt, a.ok, a.status_code, a.error, a.duration_ms,
                      d.status AS delivery_status
               FROM notification_attempts a
               JOIN notification_deliveries d ON d.id = a.delivery_id
               JOIN contact_points c ON c.id = d.contact_point_id
               JOIN notification_messages m ON m.id = d.message_id
               ORDER BY a.at DESC, a.id DESC LIMIT :n"""
        ),
        {"n": min(max(limit, 1), 1000)},
    )
    return pd.DataFrame(rows.mappings().all())


def list_open_deliveries(conn: Connection, *, limit: int = 200) -> pd.DataFrame:
    """Deliveries still pending (with their next try) and the newest failed ones."""
    rows = conn.execute(
        text(
            """SELECT d.id, c.name AS contact_point, m.severity, m.subject, d.status,
                      d.attempts, d.next_attempt_at, d.last_status_code, d.last_error
               FROM notification_deliveries d
               JOIN contact_points c ON c.id = d.contact_point_id
               JOIN notification_messages m ON m.id = d.message_id
               WHERE d.status IN ('pending', 'failed')
               ORDER BY (d.status = 'pending') DESC, d.created_at DESC LIMIT :n"""
        ),
        {"n": min(max(limit, 1), 1000)},
    )
    return pd.DataFrame(rows.mappings().all())


@dataclass(frozen=True)
class OutboxCounts:
    pending: int
    held_p2: int
    delivering: int
    failed_24h: int
    sent_24h: int


def count_outbox(conn: Connection, *, now: datetime) -> OutboxCounts:
    row = (
        conn.execute(
            text(
                """SELECT
                  (SELECT count(*) FROM notification_outbox WHERE status = 'pending') AS pending,
                  (SELECT count(*) FROM notification_outbox
                     WHERE status = 'pending' AND severity = 'P2') AS held_p2,
                  (SELECT count(*) FROM notification_deliveries WHERE status = 'pending')
                     AS delivering,
                  (SELECT count(*) FROM notification_deliveries WHERE status = 'failed'
                     AND created_at > :since) AS failed_24h,
                  (SELECT count(*) FROM notification_deliveries WHERE status = 'sent'
                     AND sent_at > :since) AS sent_24h"""
            ),
            {"since": now - timedelta(hours=24)},
        )
        .mappings()
        .one()
    )
    return OutboxCounts(**{k: int(v) for k, v in row.items()})


def sync_settings_contact_points(
    conn: Connection, *, items: Sequence[Mapping[str, Any]], now: datetime
) -> list[str]:
    """Make the ``managed_by='settings'`` contact points match ``items``; return problems.

    A settings point is created or updated by name (its secret from settings each time);
    one no longer in settings is disabled, not deleted (its delivery log stays). A name
    already used by a console-made point is skipped, with a problem reported.
    """
    problems: list[str] = []
    existing = {p.name: p for p in list_contact_points(conn)}
    wanted: set[str] = set()
    for i, item in enumerate(items):
        try:
            cp = check_contact_point(
                name=item.get("name"),
                kind=item.get("kind"),
                audiences=list(item.get("audiences") or []),
                config=dict(item.get("config") or {}),
                secret=item.get("secret") or "",
                creating=True,
            )
        except (ValueError, TypeError, AttributeError) as exc:
            problems.append(f"contact point #{i + 1} in settings: {exc}")
            continue
        wanted.add(cp.name)
        secret = cp.secret or ""
        current = existing.get(cp.name)
        if current is None:
            insert_contact_point(
                conn,
                name=cp.name,
                kind=cp.kind,
                audiences=cp.audiences,
                config=cp.config,
                secret=secret,
                secret_hint=mask_secret(secret),
                by="settings",
                now=now,
                managed_by="settings",
            )
        elif current.managed_by != "settings":
            problems.append(f"contact point {cp.name!r} in settings: the console has one so named")
        else:
            stored = get_contact_point_secret(conn, contact_point_id=current.id)
            same = (
                current.kind == cp.kind
                and current.audiences == cp.audiences
                and dict(current.config) == cp.config
                and stored == secret
                and current.enabled
            )
            if not same:
                conn.execute(
                    text(
                        """UPDATE contact_points SET kind = :kind, audiences = :aud,
                               config = CAST(:config AS jsonb), secret = :secret, secret_hint = :hint,
                               enabled = true, version = version + 1, updated_at = :now,
                               updated_by = 'settings'
                           WHERE id = :id"""
                    ),
                    {
                        "kind": cp.kind,
                        "aud": list(cp.audiences),
                        "config": json.dumps(cp.config),
                        "secret": _sealed(secret),
                        "hint": mask_secret(secret),
                        "now": now,
                        "id": current.id,
                    },
                )
    for name, point in existing.items():
        if point.managed_by == "settings" and name not in wanted and point.enabled:
            conn.execute(
                text(
                    "UPDATE contact_points SET enabled = false, version = version + 1, "
                    "updated_at = :now, updated_by = 'settings' WHERE id = :id"
                ),
                {"now": now, "id": point.id},
            )
    return problems


def send_and_record(
    conn: Connection,
    *,
    delivery: DueDelivery,
    outgoing: Outgoing,
    timeouts: Timeouts,
    at: Callable[[], datetime],
    max_attempts: int,
    backoff_base_s: float,
    backoff_cap_s: float,
) -> tuple[SendResult, str]:
    """One delivery attempt, logged: the send (or the delivery's own problem, such as a secret
    that cannot be read, without sending) and :func:`record_attempt`; (result, outcome)."""
    if delivery.problem is not None:
        sent = SendResult(False, None, delivery.problem, 0.0, retryable=False)
    else:
        sent = send(outgoing, timeouts)
    outcome = record_attempt(
        conn,
        delivery=delivery,
        ok=sent.ok,
        status_code=sent.status_code,
        error=sent.error,
        duration_ms=sent.duration_ms,
        retryable=sent.retryable,
        at=at(),
        max_attempts=max_attempts,
        backoff_base_s=backoff_base_s,
        backoff_cap_s=backoff_cap_s,
    )
    return sent, outcome
