"""The managers' report e-mail: each filed report's PDF, to every manager with an address.

Queued in the filing's transaction (:func:`queue_report_mail`): an outbox row with the
dedupe key ``report-mail:<report id>`` makes it once per report whatever the number of
workers, and each manager gets a message (recipient: their username) with one delivery
through the SMTP contact point, carrying the report's id. :func:`deliver_report_mail` sends
those deliveries with the PDF attached, logging each try in the delivery log like every other
delivery (retries and backoff included); the notifier leaves them alone. The outbox carries
text only, which is why the PDF is read from the filed report when the mail goes out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from dashboard.data import notify_store as store
from dashboard.data.report_store import ReportFiles, get_report_file
from dashboard.integrations.notify_senders import (
    Attachment,
    Outgoing,
    Timeouts,
)
from dashboard.settings import Settings, get_settings

log = logging.getLogger(__name__)

DEDUPE_PREFIX = "report-mail:"
MANAGER_ROLE = "manager"


def _now() -> datetime:
    return datetime.now(UTC)


def report_lines(files: ReportFiles, *, report_id: int) -> list[str]:
    """The text every report notice opens with: what was filed and its headline figures."""
    lines = [f"{files.title} is filed (report {report_id})."]
    lines += [f"{k}: {v}" for k, v in files.summary.items() if v is not None][:12]
    return lines


def manager_addresses(conn: Connection) -> list[tuple[str, str]]:
    """(username, e-mail) of every enabled manager with an e-mail address, by name."""
    rows = conn.execute(
        text(
            """SELECT username, email FROM users
               WHERE NOT disabled AND :role = ANY(roles)
                 AND email IS NOT NULL AND btrim(email) <> ''
               ORDER BY username"""
        ),
        {"role": MANAGER_ROLE},
    )
    return [(str(u), str(e).strip()) for u, e in rows]


def smtp_contact_point(conn: Connection) -> int | None:
    """The enabled SMTP contact point the report goes through: one serving the manager
    audience if there is one, else the oldest e-mail one; None when there is none."""
    value = conn.execute(
        text(
            """SELECT id FROM contact_points WHERE enabled AND kind = 'email'
               ORDER BY (:aud = ANY(audiences)) DESC, id LIMIT 1"""
        ),
        {"aud": MANAGER_ROLE},
    ).scalar_one_or_none()
    return None if value is None else int(value)


def queue_report_mail(
    conn: Connection, files: ReportFiles, *, report_id: int, now: datetime | None = None
) -> int:
    """Queue the report's PDF for every manager on ``conn`` (the filing's transaction).

    Returns the number of managers queued: 0 when no SMTP contact point is enabled, no
    manager has an address, or this report was queued already (its outbox dedupe key).
    """
    at = now or _now()
    point = smtp_contact_point(conn)
    managers = manager_addresses(conn)
    if point is None or not managers:
        return 0
    key = f"{DEDUPE_PREFIX}{report_id}"
    outbox_id = conn.execute(
        text(
            """INSERT INTO notification_outbox (dedupe_key, severity, group_key, subject, body,
                   source, audience, link, created_at, status, dispatched_at)
               VALUES (:key, 'info', :key, :subject, :body, 'reports', :aud, '/reports', :at,
                       'dispatched', :at)
               ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"""
        ),
        {
            "key": key,
            "subject": files.title[:300],
            "body": f"The PDF goes to {len(managers)} manager(s) by e-mail.",
            "aud": MANAGER_ROLE,
            "at": at,
        },
    ).scalar_one_or_none()
    if outbox_id is None:
        return 0
    body = "\n".join(
        [
            *report_lines(files, report_id=report_id),
            "",
            "The report is attached as a PDF; its CSV and XLSX are on the Reports page of the "
            "ORCA Ops Console.",
        ]
    )
    first: int | None = None
    for username, _ in managers:
        message_id = int(
            conn.execute(
                text(
                    """INSERT INTO notification_messages (group_key, severity, audience, event,
                           subject, body, link, recipient, row_count, created_at)
                       VALUES (:g, 'info', :aud, 'trigger', :subject, :body, '/reports', :r, 1,
                               :at) RETURNING id"""
                ),
                {
                    "g": key,
                    "aud": MANAGER_ROLE,
                    "subject": files.title[:300],
                    "body": body,
                    "r": username,
                    "at": at,
                },
            ).scalar_one()
        )
        first = first or message_id
        conn.execute(
            text(
                """INSERT INTO notification_deliveries (message_id, contact_point_id, report_id,
                       next_attempt_at, created_at) VALUES (:m, :c, :rep, :at, :at)"""
            ),
            {"m": message_id, "c": point, "rep": report_id, "at": at},
        )
    conn.execute(
        text("UPDATE notification_outbox SET message_id = :m WHERE id = :id"),
        {"m": first, "id": outbox_id},
    )
    return len(managers)


def _claim(conn: Connection, *, now: datetime) -> tuple[store.DueDelivery, int] | None:
    """Lock the oldest due report delivery no other transaction holds, with its report id."""
    row = (
        conn.execute(
            text(
                """SELECT d.id, d.attempts, d.report_id, c.id AS cp_id, c.name AS cp_name,
                          c.kind, c.config, c.secret, m.id AS message_id, m.group_key,
                          m.severity, m.event, m.subject, m.body, m.link, m.recipient,
                          m.created_at, m.alerts, u.email
                   FROM notification_deliveries d
                   JOIN contact_points c ON c.id = d.contact_point_id
                   JOIN notification_messages m ON m.id = d.message_id
                   LEFT JOIN users u ON u.username = m.recipient AND NOT u.disabled
                   WHERE d.status = 'pending' AND d.report_id IS NOT NULL
                     AND d.next_attempt_at <= :now AND c.enabled
                   ORDER BY d.next_attempt_at, d.id
                   LIMIT 1 FOR UPDATE OF d SKIP LOCKED"""
            ),
            {"now": now},
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    config: dict[str, Any] = dict(row["config"] or {})
    config.pop("to", None)  # the manager is the recipient, not the point's fixed list
    due = store.due_delivery_from_row(row, config=config)
    return due, int(row["report_id"])


@dataclass
class MailResult:
    sent: int = 0
    retry: int = 0
    failed: int = 0


def deliver_report_mail(
    engine: Engine,
    *,
    clock: Callable[[], datetime] = _now,
    settings: Settings | None = None,
) -> MailResult:
    """Send every due report delivery (one transaction each) within the cycle deadline."""
    s = settings or get_settings()
    result = MailResult()
    ends = time.monotonic() + s.notify_cycle_deadline_s
    with engine.begin() as conn:
        store.fail_disabled_deliveries(conn, now=clock())
    while (remaining := ends - time.monotonic()) > 0.05:
        with engine.begin() as conn:
            claimed = _claim(conn, now=clock())
            if claimed is None:
                break
            due, report_id = claimed
            found = get_report_file(conn, report_id=report_id, fmt="pdf")
            if found is None:  # cannot be (its deliveries go with a deleted report)
                break
            name, pdf = found
            out = Outgoing(
                kind=due.kind,
                config=due.config,
                secret=due.secret,
                subject=due.subject,
                body=due.body,
                severity="info",
                group_key=due.group_key,
                link=due.link,
                recipient=due.recipient,
                recipient_email=due.recipient_email,
                created_at=due.created_at,
                alerts=due.alerts,
                attachments=(Attachment(name, pdf),),
            )
            timeouts = Timeouts(
                connect_s=s.notify_connect_timeout_s,
                read_s=s.notify_read_timeout_s,
                deadline_s=min(s.notify_send_deadline_s, remaining),
            )
            # A secret that cannot be read (key missing or wrong) fails it without sending.
            sent, outcome = store.send_and_record(
                conn,
                delivery=due,
                outgoing=out,
                timeouts=timeouts,
                at=clock,
                max_attempts=s.notify_max_attempts,
                backoff_base_s=s.notify_backoff_base_s,
                backoff_cap_s=s.notify_backoff_cap_s,
            )
        if outcome != "sent":
            log.warning(
                "report e-mail %s to %s: %s (%s)", due.id, due.recipient, outcome, sent.error
            )
        setattr(result, outcome, getattr(result, outcome) + 1)
    return result
