"""Incident drills: start and stop faults in the ORCA Core stand-in (admins only, audited)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import redis
from sqlalchemy import Connection, Engine

from dashboard.actions.base import ActionResult, Actor, audit_change, run_authorised
from dashboard.core.faults import clear_fault, inject_fault, parse_duration, validate_params
from dashboard.domain.permissions import Role

log = logging.getLogger(__name__)


def start_drill(
    engine: Engine,
    client: redis.Redis,
    actor: Actor,
    name: str,
    duration: str,
    params: Mapping[str, Any] | None = None,
) -> ActionResult:
    """Inject fault ``name`` for ``duration`` (30s, 10m, 1h); it ends by itself.

    The fault lives in Redis, outside the transaction: it is set only after the input is
    valid, and cleared again if its audit row could not be committed, so no drill runs
    unaudited.
    """
    started: list[str] = []

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        try:
            validate_params(name, params)
            parse_duration(duration)
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        try:
            fault = inject_fault(client, name, duration, params, by=actor.username)
        except redis.RedisError:
            return ActionResult("error", "Redis is unreachable: the drill could not be started.")
        started.append(fault.name)
        audit_change(
            conn,
            actor,
            roles,
            "drill.start",
            target=("fault", name),
            after={
                "params": json.loads(json.dumps(fault.params, default=str)),
                "ends_at": fault.ends_at.isoformat(),
            },
        )
        return ActionResult("changed", f"{name} runs until {fault.ends_at:%H:%M:%S} UTC.", 1)

    result = run_authorised(engine, actor, "drill.start", body, target=("fault", str(name)[:40]))
    if started and not result.ok:
        try:  # the audit row did not commit: take the fault back
            clear_fault(client, started[0])
        except redis.RedisError:
            log.exception("drill %s started but was not audited, and could not be cleared", name)
    return result


def stop_drill(
    engine: Engine, client: redis.Redis, actor: Actor, name: str | None = None
) -> ActionResult:
    """End fault ``name`` now (every fault when None)."""

    def body(conn: Connection, roles: tuple[Role, ...]) -> ActionResult:
        try:
            ended = clear_fault(client, name)
        except ValueError as exc:
            return ActionResult("invalid", str(exc))
        except redis.RedisError:
            return ActionResult("error", "Redis is unreachable: the drill could not be stopped.")
        if not ended:
            return ActionResult("noop", "No such drill was running.")
        audit_change(
            conn,
            actor,
            roles,
            "drill.stop",
            target=("fault", name or "all"),
            before={"active": ended},
        )
        return ActionResult("changed", f"Stopped: {', '.join(ended)}.", len(ended))

    return run_authorised(engine, actor, "drill.stop", body, target=("fault", name or "all"))
