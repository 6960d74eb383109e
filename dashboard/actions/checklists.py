"""Sign off a checklist item for its current period (on-call and admin; audited, idempotent)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from dashboard.actions.base import ActionResult, Actor, audit_change, clean_reason, run_authorised
from dashboard.data import checklists as data
from dashboard.domain.permissions import Role


def sign_off(
    engine: Engine,
    actor: Actor,
    checklist_id: str,
    item_id: str,
    *,
    note: str = "",
    now: datetime | None = None,
) -> ActionResult:
    """Record that ``actor`` did ``item_id`` of ``checklist_id`` in this period (who and when)."""
    at = now or datetime.now(UTC)

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        found = {c.id: c for c in data.load_checklists()}
        checklist = found.get(checklist_id)
        if checklist is None or item_id not in {i.id for i in checklist.items}:
            return ActionResult("not_found", "No such checklist item.")
        try:
            text = clean_reason(note, required=False) or ""
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        period = data.current_period(checklist, at)
        if not data.record_signoff(
            conn, checklist=checklist_id, item=item_id, period=period, by=actor.username, note=text
        ):
            return ActionResult("noop", f"Already signed off for {period}.")
        audit_change(
            conn,
            actor,
            roles,
            "checklist.sign_off",
            target=("checklist_item", f"{checklist_id}/{item_id}"),
            after={"period": period},
            reason=text or None,
        )
        return ActionResult("changed", f"Signed off for {period}.", 1)

    return run_authorised(
        engine,
        actor,
        "checklist.sign_off",
        body,
        target=("checklist_item", f"{checklist_id}/{item_id}"),
        topics=("checklists",),
    )
