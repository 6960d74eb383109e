"""On-call: who is on call now, the rotation, overrides for a date range, the coming weeks."""

import streamlit as st

from dashboard.ui import auth, oncall_view

actor = auth.require_page("oncall")
st.title("On-call")
oncall_view.render(actor)
