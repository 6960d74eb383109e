"""Drill: rehearse an incident by injecting a fault into the ORCA Core stand-in (admins only)."""

import streamlit as st

from dashboard.ui import auth, drill_view

auth.require_page("drill")
st.title("Incident drill")
drill_view.render()
