"""Audit trail body: filters, a newest-first table paged by id, and a CSV export on request.

Which rows come back is decided on the server: admins see everybody's actions, everyone else
only their own, whatever the filters say. The export is itself audited, so it is prepared only
when asked for (a button), never on every rerun.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard.actions.audit import AuditFilter, AuditPage, audit_csv, list_audit
from dashboard.actions.base import ActionDenied
from dashboard.data.errors import InvalidQuery
from dashboard.domain.permissions import Permission, allowed
from dashboard.ui import auth, pager
from dashboard.ui.markup import plain, shown_frame

PAGE = "audit"
PAGE_SIZE = 200
TEXT = st.column_config.TextColumn


def _day(value: object, *, end: bool = False) -> datetime | None:
    if not isinstance(value, date):
        return None
    moment = datetime.combine(value, time(), UTC)
    return moment + timedelta(days=1) if end else moment


def _cell(value: object) -> str:
    """JSON columns as compact text (never markup); blank for none."""
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def filters() -> AuditFilter | None:
    """The filter form; None (after saying why) when its values do not make a valid filter."""
    actor = auth.current_actor()
    sees_all = actor is not None and allowed(actor.roles, Permission.VIEW_AUDIT_ALL)
    if not sees_all:
        st.caption("You see your own actions. Administrators see everybody's.")
    with st.form(f"{PAGE}.filters", border=True):
        c = st.columns([2, 2, 2, 2, 2, 2])
        who = c[0].text_input("Actor", key=f"{PAGE}.actor", max_chars=64, disabled=not sees_all)
        action = c[1].text_input(
            "Action (end with . for a prefix)", key=f"{PAGE}.action", max_chars=64
        )
        target_type = c[2].text_input("Target type", key=f"{PAGE}.target_type", max_chars=64)
        target_id = c[3].text_input("Target id", key=f"{PAGE}.target_id", max_chars=200)
        since = c[4].date_input("From (UTC day)", value=None, key=f"{PAGE}.since")
        until = c[5].date_input("To (UTC day)", value=None, key=f"{PAGE}.until")
        if st.form_submit_button("Apply filters", type="primary"):
            pager.reset(PAGE)
            st.session_state.pop(f"{PAGE}.csv", None)
    try:
        return AuditFilter(
            actor=who or None,
            action=action or None,
            target_type=target_type or None,
            target_id=target_id or None,
            since=_day(since),
            until=_day(until, end=True),
        )
    except ValueError as exc:
        st.warning(plain(f"Filters ignored: {exc}"))
        return None


def load(chosen: AuditFilter) -> AuditPage | None:
    actor = auth.current_actor()
    if actor is None:
        return None
    cursor = pager.current(PAGE, {k: v for k, v in vars(chosen).items() if v is not None})
    try:
        return list_audit(auth.engine(), actor, filters=chosen, limit=PAGE_SIZE, cursor=cursor)
    except InvalidQuery as exc:
        pager.reset(PAGE)
        st.warning(plain(str(exc).capitalize()))
    except ActionDenied as denied:
        st.error(denied.message)
    except (auth.GateClosed, SQLAlchemyError):
        st.error("PostgreSQL is unreachable: the audit trail cannot be shown right now.")
    return None


def table(page: AuditPage) -> None:
    scope = "your own actions" if page.own_only else "all actions"
    st.caption(f"Newest first · {scope} · page {pager.page_number(PAGE)}")
    if page.rows.empty:
        st.info("No audit entry matches these filters.", icon="ℹ️")
        return
    shown = page.rows.copy()
    for column in ("actor_roles", "before", "after"):
        shown[column] = shown[column].map(_cell)
    st.dataframe(
        shown_frame(shown),
        hide_index=True,
        key=f"{PAGE}.table",
        column_config={
            "id": st.column_config.NumberColumn("id", format="%d"),
            "at": st.column_config.DatetimeColumn("at (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            **{c: TEXT(c) for c in ("actor", "action", "target_id", "reason", "detail")},
        },
    )
    pager.controls(PAGE, page.next_cursor)


def _prepare_csv(chosen: AuditFilter) -> None:
    actor = auth.current_actor()
    if actor is None:
        return
    try:
        st.session_state[f"{PAGE}.csv"] = audit_csv(auth.engine(), actor, filters=chosen)
    except ActionDenied as denied:
        st.session_state[f"{PAGE}.csv_error"] = denied.message
    except (auth.GateClosed, SQLAlchemyError):
        st.session_state[f"{PAGE}.csv_error"] = "PostgreSQL is unreachable; no export was made."


def export(chosen: AuditFilter) -> None:
    """Prepare the CSV of every visible matching row (audited), then offer it for download."""
    c = st.columns([1, 1, 4])
    c[0].button("Prepare CSV export", key=f"{PAGE}.prepare", on_click=_prepare_csv, args=(chosen,))
    error = st.session_state.pop(f"{PAGE}.csv_error", None)
    if error:
        st.error(str(error))
    data = st.session_state.get(f"{PAGE}.csv")
    if isinstance(data, str):
        c[1].download_button(
            "Download CSV", data, file_name="audit.csv", mime="text/csv", key=f"{PAGE}.csv_dl"
        )
