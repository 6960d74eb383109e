"""The one staged select -> preview -> confirm control for actions that change things.

A "Preview" button stages what would happen (``stage`` returns a :class:`Plan` or a refusal),
the preview is shown as plain text, and "Confirm" runs the action in its ``on_click``
callback (never widgets nested in ``if st.button``). One rule for the typed count: a plan that
touches more than 10 agents (``needs_typed_confirmation``) needs its count typed back first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from dashboard.actions.agents import needs_typed_confirmation
from dashboard.actions.base import ActionResult
from dashboard.ui.markup import plain


@dataclass(frozen=True)
class Plan:
    """What the user is about to confirm (kept in session state between the two clicks).

    scope: what it was staged for (an agent and action, a filter, a selection); a plan whose
    scope is no longer the page's is not offered. preview: plain text (escaped on display).
    count: agents touched (decides the typed count). data: what ``run`` needs, plain values.
    """

    scope: str
    preview: str
    confirm_label: str
    count: int
    data: tuple[Any, ...] = ()
    confirm_text: str | None = None  # when set, typed back before Confirm (a target's name)


Stage = Callable[[], "Plan | ActionResult"]
Run = Callable[[Plan, "int | None"], ActionResult]
_ICON = {"changed": "✅", "noop": "ℹ️"}


def show_result(result_key: str) -> None:
    """The last action's message kept at ``result_key`` ("<key>.result"), once, in its colour."""
    result = st.session_state.pop(result_key, None)
    if not isinstance(result, ActionResult):
        return
    if result.outcome == "changed":
        st.success(result.message, icon=_ICON["changed"])
    elif result.outcome == "noop":
        st.info(result.message, icon=_ICON["noop"])
    else:
        st.error(result.message)


def _stage(key: str, stage: Stage) -> None:
    planned = stage()
    if isinstance(planned, ActionResult):
        st.session_state[f"{key}.result"] = planned
        return
    st.session_state[f"{key}.staged"] = planned
    st.session_state[f"{key}.typed"] = ""


def _cancel(key: str) -> None:
    st.session_state.pop(f"{key}.staged", None)


def _confirm(key: str, run: Run) -> None:
    plan = st.session_state.pop(f"{key}.staged", None)
    if not isinstance(plan, Plan):
        return
    confirm: int | None = None
    if plan.confirm_text is not None:
        typed_text = str(st.session_state.get(f"{key}.typed") or "").strip()
        if typed_text != plan.confirm_text:
            st.session_state[f"{key}.staged"] = plan  # still staged: let them type it
            st.session_state[f"{key}.result"] = ActionResult(
                "invalid", f"Type {plan.confirm_text} to confirm; nothing was run."
            )
            return
    elif needs_typed_confirmation(plan.count):
        typed = str(st.session_state.get(f"{key}.typed") or "").strip().replace(",", "")
        if typed != str(plan.count):
            st.session_state[f"{key}.staged"] = plan  # still staged: let them type it
            st.session_state[f"{key}.result"] = ActionResult(
                "invalid", f"Type {plan.count} to confirm; nothing was changed."
            )
            return
        confirm = plan.count
    st.session_state[f"{key}.result"] = run(plan, confirm)


def control(
    key: str,
    *,
    scope: str,
    preview_label: str,
    stage: Stage,
    run: Run,
    disabled: bool = False,
    help: str | None = None,
) -> None:
    """Preview button, or (once staged for ``scope``) the preview, typed count and Confirm.

    Widget keys: ``<key>.preview``, ``<key>.confirm``, ``<key>.cancel``, ``<key>.typed``;
    the outcome is kept under ``<key>.result``: show it with ``show_result(f"{key}.result")``.
    """
    plan = st.session_state.get(f"{key}.staged")
    if not isinstance(plan, Plan) or plan.scope != scope:
        st.button(
            preview_label,
            key=f"{key}.preview",
            on_click=_stage,
            args=(key, stage),
            disabled=disabled,
            help=help,
        )
        return
    st.warning(plain(plan.preview))
    if plan.confirm_text is not None:
        st.text_input(f"Type {plan.confirm_text} to confirm", key=f"{key}.typed", max_chars=80)
    elif needs_typed_confirmation(plan.count):
        st.text_input(f"Type {plan.count} to confirm", key=f"{key}.typed", max_chars=12)
    c = st.columns([1, 1, 4])
    c[0].button(
        plan.confirm_label,
        type="primary",
        key=f"{key}.confirm",
        on_click=_confirm,
        args=(key, run),
    )
    c[1].button("Cancel", key=f"{key}.cancel", on_click=_cancel, args=(key,))
