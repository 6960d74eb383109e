"""Discovery review queue body: newly discovered agents, oldest first; approve or reject them.

Select agents -> preview the decision -> confirm (``on_click``). One agent goes through
approve/reject_discovery with the version the user saw; several go through the bulk actions
(typing the count back above 10). Every call re-checks the actor's permission on the server.
"""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard.actions.agents import (
    ReviewQueuePage,
    approve_discovery,
    bulk_approve_discoveries,
    bulk_reject_discoveries,
    list_review_queue,
    reject_discovery,
)
from dashboard.actions.base import ActionDenied, ActionResult
from dashboard.data.errors import InvalidQuery
from dashboard.ui import auth, pager, staged
from dashboard.ui.markup import plain, shown, shown_frame

PAGE = "review_queue"
PAGE_SIZE = 100
DECISIONS = {"approve": "Approve (becomes active)", "reject": "Reject (becomes deprecated)"}
TEXT = st.column_config.TextColumn


def load() -> ReviewQueuePage | None:
    """This page of the queue for the signed-in actor, or None after showing why not."""
    actor = auth.current_actor()
    if actor is None:
        return None
    cursor = pager.current(PAGE, {"size": PAGE_SIZE})
    try:
        return list_review_queue(auth.engine(), actor, limit=PAGE_SIZE, cursor=cursor)
    except InvalidQuery as exc:
        pager.reset(PAGE)
        st.warning(plain(str(exc).capitalize()))
    except ActionDenied as denied:
        st.error(denied.message)
    except (auth.GateClosed, SQLAlchemyError):
        st.error("PostgreSQL is unreachable: the review queue cannot be shown right now.")
    return None


def _label(rows: pd.DataFrame) -> dict[int, str]:
    return {int(r["id"]): f"#{int(r['id'])} · {shown(r['name'])}" for _, r in rows.iterrows()}


def _scope(decision: str, ids: list[int]) -> str:
    return f"{decision}:" + ",".join(str(i) for i in sorted(ids))


def _stage(labels: dict[int, str]) -> staged.Plan | ActionResult:
    chosen = [int(i) for i in st.session_state.get(f"{PAGE}.selected") or []]
    if not chosen:
        return ActionResult("invalid", "Select agents first.")
    decision = str(st.session_state.get(f"{PAGE}.decision") or "approve")
    names = ", ".join(labels.get(i, f"#{i}") for i in chosen[:10])
    more = f" and {len(chosen) - 10} more" if len(chosen) > 10 else ""
    return staged.Plan(
        scope=_scope(decision, chosen),
        preview=f"{decision.capitalize()} {len(chosen)} agent(s): {names}{more}",
        confirm_label=f"Confirm: {decision} {len(chosen)}",
        count=len(chosen),
        data=(decision, tuple(chosen)),
    )


def _run(versions: dict[int, int], plan: staged.Plan, confirm: int | None) -> ActionResult:
    actor = auth.current_actor()
    if actor is None:
        return ActionResult("denied", "Your session has ended. Sign in again.")
    decision, ids = plan.data
    note = str(st.session_state.get(f"{PAGE}.note") or "").strip() or None
    try:
        if len(ids) == 1:
            single = approve_discovery if decision == "approve" else reject_discovery
            result = single(auth.engine(), actor, ids[0], note, versions.get(ids[0]))
        else:
            bulk = bulk_approve_discoveries if decision == "approve" else bulk_reject_discoveries
            result = bulk(auth.engine(), actor, list(ids), note, confirm_count=confirm)
    except (auth.GateClosed, SQLAlchemyError):
        result = ActionResult("error", "PostgreSQL is unreachable; nothing was changed.")
    if result.ok:
        st.session_state[f"{PAGE}.selected"] = []
        st.session_state[f"{PAGE}.note"] = ""
    return result


def queue(page: ReviewQueuePage) -> None:
    """The table of waiting agents with paging, then the staged decision form."""
    st.caption(
        f"{page.total:,} agents await review · page {pager.page_number(PAGE)} · "
        "oldest discovery first"
    )
    staged.show_result(f"{PAGE}.result")
    if page.rows.empty:
        st.info("No discovered agent awaits review.", icon="ℹ️")
        return
    st.dataframe(
        shown_frame(page.rows),
        hide_index=True,
        key=f"{PAGE}.table",
        column_config={
            "id": st.column_config.NumberColumn("id", format="%d"),
            "name": TEXT("name", width="large"),
            "owner": TEXT("owner"),
            "discovered_at": st.column_config.DatetimeColumn(
                "discovered", format="YYYY-MM-DD HH:mm"
            ),
        },
    )
    pager.controls(PAGE, page.next_cursor)
    labels = _label(page.rows)
    versions = {int(r["id"]): int(r["version"]) for _, r in page.rows.iterrows()}
    current = [i for i in st.session_state.get(f"{PAGE}.selected") or [] if i in labels]
    st.session_state[f"{PAGE}.selected"] = current
    with st.container(border=True):
        st.markdown("**Review**")
        st.multiselect(
            "Agents to review (from this page)",
            list(labels),
            format_func=labels.__getitem__,
            key=f"{PAGE}.selected",
        )
        st.radio(
            "Decision",
            list(DECISIONS),
            format_func=DECISIONS.__getitem__,
            horizontal=True,
            key=f"{PAGE}.decision",
        )
        st.text_input("Note (optional, kept in the audit trail)", key=f"{PAGE}.note")
        chosen = [int(i) for i in st.session_state.get(f"{PAGE}.selected") or []]
        decision = str(st.session_state.get(f"{PAGE}.decision") or "approve")
        staged.control(
            PAGE,
            scope=_scope(decision, chosen),
            preview_label="Preview decision",
            stage=functools.partial(_stage, labels),
            run=functools.partial(_run, versions),
        )
