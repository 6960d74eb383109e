"""Checklists page body: the guide's daily, weekly, monthly, quarterly and post-deployment
checklists, auto-checked where the console can, signed off by a person otherwise."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.actions import checklists as checklist_actions
from dashboard.actions.base import ActionResult
from dashboard.data import checklists as data
from dashboard.settings import get_settings
from dashboard.ui import auth, staged
from dashboard.ui.markup import plain
from dashboard.ui.ops_common import may, not_allowed_button, run_action

PAGE = "checklists"
_STATE = {
    "done": ":green[:material/check_circle: done]",
    "due": ":orange[:material/schedule: due]",
    "overdue": ":red[:material/error: overdue]",
}
_AUTO = {"pass": "passes", "fail": "fails", "info": "shows"}


@st.cache_data(ttl=30, show_spinner="Checking…")
def _evaluate(checklist_id: str) -> list[data.ItemView]:
    """Each checklist's items with their auto checks, at most every 30 s for all viewers."""
    found = {c.id: c for c in data.load_checklists()}
    with auth.engine().connect() as conn:
        return data.evaluate_checklist(conn, get_settings(), found[checklist_id])


def _item(view: data.ItemView, period: str) -> None:
    with st.container(border=True):
        top = st.columns([2, 8, 3])
        top[0].markdown(_STATE[view.state])
        top[1].markdown(f"**{plain(view.text)}**")
        if view.signed_by:
            when = f"{view.signed_at:%Y-%m-%d %H:%M} UTC" if view.signed_at else ""
            top[2].caption(plain(f"signed off by {view.signed_by} {when}"))
        if view.auto is not None:
            kind = _AUTO[view.auto.status]
            st.caption(plain(f"Automatic check {kind}: {view.auto.detail}"))
            if view.rows:
                with st.expander(f"Data ({len(view.rows)} rows)"):
                    st.dataframe(pd.DataFrame(list(view.rows)), hide_index=True)
        key = f"{PAGE}.{view.checklist}.{view.item}"
        staged.show_result(f"{key}.result")  # the sign-off just made marks it done: say so
        if view.state == "done":
            return
        if not may("checklist.sign_off"):
            not_allowed_button("Sign off…", f"{key}.off")
            return

        def stage() -> staged.Plan | ActionResult:
            return staged.Plan(
                scope=f"{view.checklist}/{view.item}/{period}",
                preview=f"Sign off “{view.text}” for {period} as done by you.",
                confirm_label="Sign off",
                count=1,
            )

        def run(plan: staged.Plan, confirm: int | None) -> ActionResult:
            result = run_action(checklist_actions.sign_off, view.checklist, view.item)
            _evaluate.clear()
            return result

        staged.control(
            key,
            scope=f"{view.checklist}/{view.item}/{period}",
            preview_label="Sign off…",
            stage=stage,
            run=run,
        )


def render() -> None:
    try:
        lists = data.load_checklists()
    except (OSError, ValueError) as exc:
        st.error(f"The checklists file could not be read: {exc}")
        return
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    views: dict[str, list[data.ItemView]] = {}
    for c in lists:
        try:
            views[c.id] = _evaluate(c.id)
        except Exception:
            st.error("PostgreSQL is unreachable: the checklists cannot be evaluated now.")
            return
    overdue = [(c.title, v.text) for c in lists for v in views[c.id] if v.state == "overdue"]
    if overdue:
        st.error(
            f"{len(overdue)} overdue: "
            + "; ".join(plain(f"{t}: {x}") for t, x in overdue[:8])
            + ("…" if len(overdue) > 8 else "")
        )
    else:
        st.success("Nothing is overdue.")
    tabs = st.tabs(
        [f"{c.title} ({sum(v.state != 'done' for v in views[c.id])} open)" for c in lists]
    )
    for tab, c in zip(tabs, lists, strict=True):
        with tab:
            period = data.current_period(c, now)
            st.caption(
                plain(f"Period {period}. Items that pass their automatic check count as done.")
            )
            for view in views[c.id]:
                _item(view, period)
