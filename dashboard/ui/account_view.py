"""My account: the signed-in user changes their own password (current one required)."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from dashboard.actions.base import SESSION_ENDED_MESSAGE, ActionResult
from dashboard.actions.users import change_own_password
from dashboard.ui import auth, staged
from dashboard.ui.markup import plain

PAGE = "account"
_FIELDS = ("current", "new", "repeat")


def _change() -> None:
    values = {f: str(st.session_state.get(f"{PAGE}.{f}") or "") for f in _FIELDS}
    for field in _FIELDS:  # never kept in session state past this callback
        st.session_state[f"{PAGE}.{field}"] = ""
    actor = auth.current_actor()
    if actor is None:
        result = ActionResult("denied", SESSION_ENDED_MESSAGE)
    elif values["new"] != values["repeat"]:
        result = ActionResult("invalid", "The two new passwords differ; nothing was changed.")
    else:
        try:
            result = change_own_password(
                auth.engine(), actor, current=values["current"], new=values["new"]
            )
        except (auth.GateClosed, SQLAlchemyError):
            result = ActionResult("error", "PostgreSQL is unreachable; nothing was changed.")
    st.session_state[f"{PAGE}.result"] = result


def render() -> None:
    actor = auth.current_actor()
    if actor is not None:
        st.caption(f"Signed in as {plain(actor.username)} ({plain(', '.join(actor.roles))})")
    staged.show_result(f"{PAGE}.result")
    _, mid, _ = st.columns([1, 2, 1])
    with mid, st.form(f"{PAGE}.password", border=True, enter_to_submit=False):
        st.markdown("**Change your password**")
        st.text_input("Current password", type="password", key=f"{PAGE}.current", max_chars=200)
        st.text_input("New password", type="password", key=f"{PAGE}.new", max_chars=200)
        st.text_input(
            "Repeat the new password", type="password", key=f"{PAGE}.repeat", max_chars=200
        )
        st.caption(
            "At least 12 characters, not containing your user name. Your other sessions "
            "(other browsers, other devices) end; this one stays signed in."
        )
        st.form_submit_button("Change password", type="primary", on_click=_change)
