"""Runbooks: the guide's runbooks as buttons (dry run, confirm, run), their runs and evidence."""

import streamlit as st

from dashboard.ui import auth, runbooks_view

actor = auth.require_page("runbooks")
st.title("Runbooks")
runbooks_view.render(actor)
