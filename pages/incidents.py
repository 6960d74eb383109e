"""Incidents: declare, run the seven phases, timeline, status updates, postmortems, MTTA/MTTR."""

import streamlit as st

from dashboard.ui import auth, incidents_view

actor = auth.require_page("incidents")
st.title("Incidents")
st.caption("Public status page: [/status](/status) (no sign-in; public status updates only).")
incidents_view.render(actor)
