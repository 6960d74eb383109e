"""Staged quarantine / release controls: one agent from its detail, many from a registry filter.

Every control follows select -> preview -> confirm, and the confirm button runs the action in
its ``on_click`` callback (never widgets nested in ``if st.button``). Buttons are shown only when
the permission table allows them, but the actions re-check the actor in the database anyway.
The outcome's plain message (changed, noop, conflict, denied ...) is shown as the action wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard.actions.agents import (
    bulk_quarantine,
    count_bulk_targets,
    needs_typed_confirmation,
    quarantine_agent,
    release_agent,
)
from dashboard.actions.base import ActionResult
from dashboard.data.agents import AgentFilter
from dashboard.data.errors import InvalidQuery
from dashboard.domain.permissions import can_do
from dashboard.ui import auth, loaders, resources

DETAIL = "agent_detail"
BULK = "agent_registry.bulk"
_ICON = {"changed": "✅", "noop": "ℹ️"}


@dataclass(frozen=True)
class Staged:
    """What the user is about to confirm (kept in session state between the two clicks)."""

    action: str
    agent_id: int
    version: int | None
    reason: str


def show_result(key: str) -> None:
    """The last action's message, once, in the colour of its outcome."""
    result = st.session_state.pop(key, None)
    if not isinstance(result, ActionResult):
        return
    if result.outcome == "changed":
        st.success(result.message, icon=_ICON["changed"])
    elif result.outcome == "noop":
        st.info(result.message, icon=_ICON["noop"])
    else:
        st.error(result.message)


def _run(fn: Any, *args: Any, **kwargs: Any) -> ActionResult:
    actor = auth.current_actor()
    if actor is None:
        return ActionResult("denied", "Your session has ended. Sign in again.")
    try:
        result: ActionResult = fn(auth.engine(), actor, *args, **kwargs)
    except (auth.GateClosed, SQLAlchemyError):
        return ActionResult("error", "PostgreSQL is unreachable; nothing was changed.")
    return result


# ----------------------------------------------------------------------------- one agent


def _stage_single(action: str, agent_id: int, version: int | None) -> None:
    reason = str(st.session_state.get(f"{DETAIL}.reason") or "").strip()
    if not reason:
        st.session_state[f"{DETAIL}.result"] = ActionResult("invalid", "A reason is required.")
        return
    st.session_state[f"{DETAIL}.staged"] = Staged(action, agent_id, version, reason)


def _cancel_single() -> None:
    st.session_state.pop(f"{DETAIL}.staged", None)


def _confirm_single() -> None:
    staged = st.session_state.pop(f"{DETAIL}.staged", None)
    if not isinstance(staged, Staged):
        return
    fn = quarantine_agent if staged.action == "agent.quarantine" else release_agent
    result = _run(fn, staged.agent_id, staged.reason, expected_version=staged.version)
    st.session_state[f"{DETAIL}.result"] = result
    if result.ok:
        st.session_state[f"{DETAIL}.reason"] = ""
    loaders.invalidate("agent_detail", agent_id=staged.agent_id, now=resources.now())


def single_control(agent: dict[str, Any]) -> None:
    """Quarantine (or release, when quarantined) this agent, for those allowed to."""
    actor = auth.current_actor()
    quarantined = agent["status"] == "quarantined"
    action = "agent.release" if quarantined else "agent.quarantine"
    show_result(f"{DETAIL}.result")
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
        staged = st.session_state.get(f"{DETAIL}.staged")
        if isinstance(staged, Staged) and (staged.agent_id, staged.action) == (agent_id, action):
            st.warning(
                f"{verb} agent #{agent_id} (now {agent['status']}, version {version}) "
                f"with the reason: {staged.reason}"
            )
            c = st.columns([1, 1, 4])
            c[0].button(
                f"Confirm {verb.lower()}",
                type="primary",
                key=f"{DETAIL}.confirm",
                on_click=_confirm_single,
            )
            c[1].button("Cancel", key=f"{DETAIL}.cancel", on_click=_cancel_single)
        else:
            st.button(
                f"Preview {verb.lower()}",
                key=f"{DETAIL}.preview",
                on_click=_stage_single,
                args=(action, agent_id, version),
            )


# ----------------------------------------------------------------------------- many agents


def _stage_bulk(filters: AgentFilter) -> None:
    reason = str(st.session_state.get(f"{BULK}.reason") or "").strip()
    if not reason:
        st.session_state[f"{BULK}.result"] = ActionResult("invalid", "A reason is required.")
        return
    try:
        count = count_bulk_targets(auth.engine(), filters)
    except InvalidQuery as exc:
        st.session_state[f"{BULK}.result"] = ActionResult("invalid", str(exc))
        return
    except (auth.GateClosed, SQLAlchemyError):
        st.session_state[f"{BULK}.result"] = ActionResult(
            "error", "PostgreSQL is unreachable; nothing was changed."
        )
        return
    st.session_state[f"{BULK}.staged"] = (filters.to_query_params(), count, reason)
    st.session_state[f"{BULK}.typed"] = ""


def _cancel_bulk() -> None:
    st.session_state.pop(f"{BULK}.staged", None)


def _confirm_bulk(filters: AgentFilter) -> None:
    staged = st.session_state.pop(f"{BULK}.staged", None)
    if not isinstance(staged, tuple):
        return
    _, count, reason = staged
    confirm: int | None = None
    if needs_typed_confirmation(count):
        typed = str(st.session_state.get(f"{BULK}.typed") or "").strip().replace(",", "")
        if typed != str(count):
            st.session_state[f"{BULK}.staged"] = staged
            st.session_state[f"{BULK}.result"] = ActionResult(
                "invalid", f"Type {count} to confirm; nothing was changed."
            )
            return
        confirm = count
    result = _run(bulk_quarantine, filters, reason, confirm_count=confirm)
    st.session_state[f"{BULK}.result"] = result
    if result.ok:
        st.session_state[f"{BULK}.reason"] = ""


def bulk_control(filters: AgentFilter) -> None:
    """Quarantine every agent of the registry's current filter (operators only)."""
    actor = auth.current_actor()
    if actor is None or not can_do(actor.roles, "agent.bulk_quarantine"):
        return
    with st.expander("Quarantine every agent matching these filters", expanded=False):
        show_result(f"{BULK}.result")
        st.text_area("Reason (required)", key=f"{BULK}.reason", max_chars=1000, height=80)
        staged = st.session_state.get(f"{BULK}.staged")
        if isinstance(staged, tuple) and staged[0] == filters.to_query_params():
            _, count, reason = staged
            st.warning(
                f"This will quarantine the {count:,} agents matching the current filters "
                f"(those already quarantined stay as they are). Reason: {reason}"
            )
            if needs_typed_confirmation(count):
                st.text_input(f"Type {count} to confirm", key=f"{BULK}.typed", max_chars=12)
            c = st.columns([1, 1, 4])
            c[0].button(
                f"Confirm: quarantine {count:,}",
                type="primary",
                key=f"{BULK}.confirm",
                on_click=_confirm_bulk,
                args=(filters,),
            )
            c[1].button("Cancel", key=f"{BULK}.cancel", on_click=_cancel_bulk)
        else:
            st.button(
                "Preview: how many agents?",
                key=f"{BULK}.preview",
                on_click=_stage_bulk,
                args=(filters,),
            )
