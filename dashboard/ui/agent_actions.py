"""Staged quarantine / release controls: one agent from its detail, many from a registry filter.

Every control follows select -> preview -> confirm, and the confirm button runs the action in
its ``on_click`` callback (never widgets nested in ``if st.button``). Buttons are shown only when
the permission table allows them, but the actions re-check the actor in the database anyway.
The outcome's plain message (changed, noop, conflict, denied ...) is shown as the action wrote it.
"""

from __future__ import annotations

import functools
from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard.actions.agents import (
    bulk_quarantine,
    count_bulk_targets,
    quarantine_agent,
    release_agent,
)
from dashboard.actions.base import ActionResult
from dashboard.data.agent_filter import AgentFilter
from dashboard.data.errors import InvalidQuery
from dashboard.domain.permissions import can_do
from dashboard.ui import auth, components, staged

# drill_view still imports show_result from here; its home is ui/staged.
show_result = staged.show_result

DETAIL = "agent_detail"
BULK = "agent_registry.bulk"


def _run(fn: Any, *args: Any, **kwargs: Any) -> ActionResult:
    actor = auth.current_actor()
    if actor is None:
        return ActionResult("denied", "Your session has ended. Sign in again.")
    try:
        result: ActionResult = fn(auth.engine(), actor, *args, **kwargs)
    except (auth.GateClosed, SQLAlchemyError):
        return ActionResult("error", "PostgreSQL is unreachable; nothing was changed.")
    return result


def _reason(key: str) -> str:
    return str(st.session_state.get(f"{key}.reason") or "").strip()


# ----------------------------------------------------------------------------- one agent


def _stage_single(
    action: str, agent_id: int, version: int | None, status: str
) -> staged.Plan | ActionResult:
    reason = _reason(DETAIL)
    if not reason:
        return ActionResult("invalid", "A reason is required.")
    verb = "Release" if action == "agent.release" else "Quarantine"
    return staged.Plan(
        scope=f"{action}:{agent_id}",
        preview=f"{verb} agent #{agent_id} (now {status}, version {version}) "
        f"with the reason: {reason}",
        confirm_label=f"Confirm {verb.lower()}",
        count=1,
        data=(action, agent_id, version, reason),
    )


def _run_single(plan: staged.Plan, _confirm: int | None) -> ActionResult:
    action, agent_id, version, reason = plan.data
    fn = quarantine_agent if action == "agent.quarantine" else release_agent
    result = _run(fn, agent_id, reason, expected_version=version)
    if result.ok:
        st.session_state[f"{DETAIL}.reason"] = ""
    # No invalidation here: the action bumped the "agents" cache topic after its commit, so
    # this replica and every other one compute the detail and the counts afresh.
    return result


def single_control(agent: dict[str, Any]) -> None:
    """Quarantine (or release, when quarantined) this agent, for those allowed to."""
    actor = auth.current_actor()
    quarantined = agent["status"] == "quarantined"
    action = "agent.release" if quarantined else "agent.quarantine"
    staged.show_result(f"{DETAIL}.result")
    if actor is None or not can_do(actor.roles, action):
        return
    verb = "Release" if quarantined else "Quarantine"
    agent_id = int(agent["id"])
    version = int(agent["version"]) if agent.get("version") is not None else None
    with st.container(border=True, key=f"{DETAIL}.control"):
        st.markdown(f"**{verb} this agent**")
        st.text_area(
            "Reason (required, kept in the audit trail)",
            key=f"{DETAIL}.reason",
            max_chars=1000,
            height=80,
        )
        staged.control(
            DETAIL,
            scope=f"{action}:{agent_id}",
            preview_label=f"Preview {verb.lower()}",
            stage=functools.partial(_stage_single, action, agent_id, version, str(agent["status"])),
            run=_run_single,
        )


# ----------------------------------------------------------------------------- many agents


def _stage_bulk(filters: AgentFilter) -> staged.Plan | ActionResult:
    reason = _reason(BULK)
    if not reason:
        return ActionResult("invalid", "A reason is required.")
    try:
        count = count_bulk_targets(auth.engine(), filters)
    except InvalidQuery as exc:
        return ActionResult("invalid", str(exc))
    except (auth.GateClosed, SQLAlchemyError):
        return ActionResult("error", "PostgreSQL is unreachable; nothing was changed.")
    return staged.Plan(
        scope=_filter_scope(filters),
        preview=f"This will quarantine the {count:,} agents matching the current filters "
        f"(those already quarantined stay as they are). Reason: {reason}",
        confirm_label=f"Confirm: quarantine {count:,}",
        count=count,
        data=(reason,),
    )


def _run_bulk(filters: AgentFilter, plan: staged.Plan, confirm: int | None) -> ActionResult:
    (reason,) = plan.data
    result = _run(bulk_quarantine, filters, reason, confirm_count=confirm)
    if result.ok:
        st.session_state[f"{BULK}.reason"] = ""
    return result


def _filter_scope(filters: AgentFilter) -> str:
    return "filter:" + "&".join(f"{k}={v}" for k, v in sorted(filters.to_query_params().items()))


def bulk_control(filters: AgentFilter) -> None:
    """Quarantine every agent of the registry's current filter (operators only)."""
    actor = auth.current_actor()
    if actor is None or not can_do(actor.roles, "agent.bulk_quarantine"):
        return
    box, shown = components.lazy_expander(
        "Quarantine every agent matching these filters", f"{BULK}.open"
    )
    with box:
        if not shown:
            return
        staged.show_result(f"{BULK}.result")
        st.text_area("Reason (required)", key=f"{BULK}.reason", max_chars=1000, height=80)
        staged.control(
            BULK,
            scope=_filter_scope(filters),
            preview_label="Preview: how many agents?",
            stage=functools.partial(_stage_bulk, filters),
            run=functools.partial(_run_bulk, filters),
        )
