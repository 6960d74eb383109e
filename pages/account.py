"""My account: change your own password."""

import streamlit as st

from dashboard.ui import account_view, auth

auth.require_page("account")
st.title("My account")
account_view.render()
