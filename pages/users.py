"""Users (admins): who may sign in, with which roles; add, disable, unlock, reset passwords."""

import streamlit as st

from dashboard.ui import auth, users_view

auth.require_page("users")
st.title("Users")
users_view.one_time_password()
rows = users_view.load()
if rows is not None:
    users_view.table(rows)
    users_view.change_panel(rows)
users_view.add_form()
