"""Incident drills: start and stop faults in the ORCA Core stand-in (admins only, audited)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis
from sqlalchemy import Engine

from dashboard.actions.base import ActionDenied, ActionResult, Actor, authorize
from dashboard.core.faults import clear_fault, inject_fault
from dashboard.db.auth_store import AuditRecord, record_audit


def start_drill(
    engine: Engine,
    client: redis.Redis,
    actor: Actor,
    name: str,
    duration: str,
    params: Mapping[str, Any] | None = None,
) -> ActionResult:
    """Inject fault ``name`` for ``duration`` (30s, 10m, 1h); it ends by itself."""
    with engine.begin() as conn:
        try:
            roles = authorize(
                conn,
                actor,
                "drill.start",
                target=("fault", str(name)[:40]),
            )
        except ActionDenied as denied:
            return ActionResult("denied", denied.message)
        try:
            fault = inject_fault(client, name, duration, params, by=actor.username)
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        except redis.RedisError:
            return ActionResult("error", "Redis is unreachable: the drill could not be started.")
        record_audit(
            conn,
            AuditRecord(
                actor=actor.username,
                action="drill.start",
                outcome="ok",
                actor_roles=tuple(r.value for r in roles),
                target_type="fault",
                target_id=name,
                after={
                    "params": json.loads(json.dumps(fault.params, default=str)),
                    "ends_at": fault.ends_at.isoformat(),
                },
            ),
        )
    return ActionResult("changed", f"{name} runs until {fault.ends_at:%H:%M:%S} UTC.", 1)


def stop_drill(
    engine: Engine, client: redis.Redis, actor: Actor, name: str | None = None
) -> ActionResult:
    """End fault ``name`` now (every fault when None)."""
    with engine.begin() as conn:
        try:
            roles = authorize(
                conn,
                actor,
                "drill.stop",
                target=("fault", name or "all"),
            )
        except ActionDenied as denied:
            return ActionResult("denied", denied.message)
        try:
            ended = clear_fault(client, name)
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        except redis.RedisError:
            return ActionResult("error", "Redis is unreachable: the drill could not be stopped.")
        if not ended:
            return ActionResult("noop", "No such drill was running.")
        record_audit(
            conn,
            AuditRecord(
                actor=actor.username,
                action="drill.stop",
                outcome="ok",
                actor_roles=tuple(r.value for r in roles),
                target_type="fault",
                target_id=name or "all",
                before={"active": ended},
            ),
        )
    return ActionResult("changed", f"Stopped: {', '.join(ended)}.", len(ended))
