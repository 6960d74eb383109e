"""Contact points (admins): add, edit, disable / enable and test-send, each audited.

Secrets (webhook URLs, routing keys, SMTP passwords) go into the database and never come back
out through here: audit rows and results carry the masked hint only. Edits carry the version
the admin was looking at, so a concurrent change is refused instead of overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from dashboard.actions.base import ActionResult, Actor, audit_change, run_authorised
from dashboard.data import notify_store as store
from dashboard.domain.notify_rules import ContactPointInput, check_contact_point, mask_secret
from dashboard.domain.permissions import Role
from dashboard.integrations import secret_box
from dashboard.integrations.notify_senders import Outgoing, Timeouts, send
from dashboard.settings import get_settings

ADD, EDIT, DISABLE, ENABLE, TEST = (
    "contact_point.add",
    "contact_point.edit",
    "contact_point.disable",
    "contact_point.enable",
    "contact_point.test",
)
TOPICS = ("contact_points",)
CONFLICT = "Someone changed this contact point since you opened it; nothing was changed. Reload."
SETTINGS_MANAGED = (
    "This contact point comes from settings (ORCA_NOTIFY_CONTACT_POINTS); change it there."
)


def _visible(cp: ContactPointInput | store.ContactPoint, hint: str) -> dict[str, Any]:
    """What the audit log keeps of a contact point: no secret, only its hint."""
    return {
        "name": cp.name,
        "kind": cp.kind,
        "audiences": list(cp.audiences),
        "config": dict(cp.config),
        "secret": hint,
    }


def add_contact_point(
    engine: Engine,
    actor: Actor,
    *,
    name: str,
    kind: str,
    audiences: Sequence[str],
    config: dict[str, object] | None = None,
    secret: str = "",
) -> ActionResult:
    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        if (problem := secret_box.key_problem()) is not None:
            return ActionResult("error", f"Secrets cannot be stored: {problem}")
        try:
            cp = check_contact_point(
                name=name,
                kind=kind,
                audiences=audiences,
                config=dict(config or {}),
                secret=secret,
                creating=True,
            )
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        hint = mask_secret(cp.secret or "")
        new_id = store.insert_contact_point(
            conn,
            name=cp.name,
            kind=cp.kind,
            audiences=cp.audiences,
            config=cp.config,
            secret=cp.secret or "",
            secret_hint=hint,
            by=actor.username,
            now=datetime.now(UTC),
        )
        audit_change(
            conn, actor, roles, ADD, target=("contact_point", str(new_id)), after=_visible(cp, hint)
        )
        return ActionResult("changed", f"Contact point {cp.name} added.", 1)

    return run_authorised(
        engine,
        actor,
        ADD,
        body,
        target=("contact_point", None),
        integrity_message="A contact point with this name exists already.",
        topics=TOPICS,
    )


def _load(
    conn: Connection, contact_point_id: int, expected_version: int | None
) -> store.ContactPoint | ActionResult:
    current = store.get_contact_point(conn, contact_point_id=contact_point_id, for_update=True)
    if current is None:
        return ActionResult("not_found", "That contact point no longer exists.")
    if current.managed_by == "settings":
        return ActionResult("invalid", SETTINGS_MANAGED)
    if expected_version is not None and current.version != expected_version:
        return ActionResult("conflict", CONFLICT)
    return current


def edit_contact_point(
    engine: Engine,
    actor: Actor,
    contact_point_id: int,
    *,
    expected_version: int | None,
    name: str,
    audiences: Sequence[str],
    config: dict[str, object] | None = None,
    secret: str | None = None,
) -> ActionResult:
    """Change a contact point; a blank ``secret`` keeps the stored one."""

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        if secret and (problem := secret_box.key_problem()) is not None:
            return ActionResult("error", f"Secrets cannot be stored: {problem}")
        current = _load(conn, contact_point_id, expected_version)
        if isinstance(current, ActionResult):
            return current
        try:
            cp = check_contact_point(
                name=name,
                kind=current.kind,
                audiences=audiences,
                config=dict(config or {}),
                secret=secret,
                creating=False,
            )
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        fields: dict[str, Any] = {"name": cp.name, "audiences": cp.audiences, "config": cp.config}
        hint = current.secret_hint
        if cp.secret is not None:
            hint = mask_secret(cp.secret)
            fields.update(secret=cp.secret, secret_hint=hint)
        if (
            cp.secret is None
            and cp.name == current.name
            and cp.audiences == current.audiences
            and cp.config == dict(current.config)
        ):
            return ActionResult("noop", "Nothing to change.")
        if not store.update_contact_point(
            conn,
            contact_point_id=current.id,
            expected_version=current.version,
            fields=fields,
            by=actor.username,
            now=datetime.now(UTC),
        ):
            return ActionResult("conflict", CONFLICT)
        audit_change(
            conn,
            actor,
            roles,
            EDIT,
            target=("contact_point", str(current.id)),
            before={**_visible(current, current.secret_hint), "version": current.version},
            after={**_visible(cp, hint), "version": current.version + 1},
            detail="secret replaced" if cp.secret is not None else "secret kept",
        )
        return ActionResult("changed", f"Contact point {cp.name} saved.", 1)

    return run_authorised(
        engine,
        actor,
        EDIT,
        body,
        target=("contact_point", str(contact_point_id)),
        integrity_message="A contact point with this name exists already.",
        topics=TOPICS,
    )


def set_contact_point_enabled(
    engine: Engine,
    actor: Actor,
    contact_point_id: int,
    *,
    enabled: bool,
    expected_version: int | None = None,
) -> ActionResult:
    """Disable (deliveries stop; pending ones end as failed) or enable a contact point."""
    action = ENABLE if enabled else DISABLE

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        current = _load(conn, contact_point_id, expected_version)
        if isinstance(current, ActionResult):
            return current
        if current.enabled == enabled:
            return ActionResult("noop", f"{current.name} is already {action.split('.')[1]}d.")
        store.update_contact_point(
            conn,
            contact_point_id=current.id,
            expected_version=current.version,
            fields={"enabled": enabled},
            by=actor.username,
            now=datetime.now(UTC),
        )
        audit_change(
            conn,
            actor,
            roles,
            action,
            target=("contact_point", str(current.id)),
            before={"enabled": current.enabled, "version": current.version},
            after={"enabled": enabled, "version": current.version + 1},
        )
        return ActionResult("changed", f"{current.name} {action.split('.')[1]}d.", 1)

    return run_authorised(
        engine, actor, action, body, target=("contact_point", str(contact_point_id)), topics=TOPICS
    )


def test_contact_point(engine: Engine, actor: Actor, contact_point_id: int) -> ActionResult:
    """Send a test message now; it shows in the delivery log like any other delivery."""

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        current = store.get_contact_point(conn, contact_point_id=contact_point_id)
        if current is None:
            return ActionResult("not_found", "That contact point no longer exists.")
        now = datetime.now(UTC)
        subject = f"Test message (sent by {actor.username})"
        message_id = conn.execute(
            text(
                """INSERT INTO notification_messages (group_key, severity, audience, subject,
                       body, row_count, created_at, recipient)
                   VALUES (:g, 'info', 'broadcast', :s, :b, 0, :now, NULL) RETURNING id"""
            ),
            {
                "g": f"test:{current.id}",
                "s": subject,
                "b": "If you read this, the contact point works. No action needed.",
                "now": now,
            },
        ).scalar_one()
        delivery_id = conn.execute(
            text(
                """INSERT INTO notification_deliveries (message_id, contact_point_id,
                       next_attempt_at, created_at) VALUES (:m, :c, :now, :now) RETURNING id"""
            ),
            {"m": message_id, "c": current.id, "now": now},
        ).scalar_one()
        s = get_settings()
        try:
            secret = store.get_contact_point_secret(conn, contact_point_id=current.id)
        except secret_box.SecretKeyError as exc:
            return ActionResult("error", str(exc))
        out = Outgoing(
            kind=current.kind,
            config=current.config,
            secret=secret,
            subject=subject,
            body="If you read this, the contact point works. No action needed.",
            severity="info",
            group_key=f"test:{current.id}",
            created_at=now,
        )
        sent = send(
            out,
            Timeouts(s.notify_connect_timeout_s, s.notify_read_timeout_s, s.notify_send_deadline_s),
        )
        due = store.DueDelivery(
            id=int(delivery_id),
            attempts=0,
            contact_point_id=current.id,
            contact_point=current.name,
            kind=current.kind,
            config=current.config,
            secret="",
            message_id=int(message_id),
            group_key=out.group_key,
            severity="info",
            event="trigger",
            subject=subject,
            body=out.body,
            link=None,
            recipient=None,
            recipient_email=None,
            created_at=now,
        )
        store.record_attempt(
            conn,
            delivery=due,
            ok=sent.ok,
            status_code=sent.status_code,
            error=sent.error,
            duration_ms=sent.duration_ms,
            at=datetime.now(UTC),
            max_attempts=1,
            backoff_base_s=1,
            backoff_cap_s=1,
        )
        audit_change(
            conn,
            actor,
            roles,
            TEST,
            target=("contact_point", str(current.id)),
            outcome="ok" if sent.ok else "failed",
            detail=(sent.error or f"delivered (status {sent.status_code})")[:300],
        )
        if sent.ok:
            return ActionResult("changed", f"Test message delivered to {current.name}.", 1)
        # Still committed (audit row and delivery log), but shown as the failure it is.
        return ActionResult("error", f"Test to {current.name} failed: {sent.error}", 0)

    return run_authorised(
        engine, actor, TEST, body, target=("contact_point", str(contact_point_id)), topics=TOPICS
    )
