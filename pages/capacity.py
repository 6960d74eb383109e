"""Capacity: 90 days of growth and when each metric crosses the guide's thresholds."""

import streamlit as st

from dashboard.ui import auth, reports_view

auth.require_page("capacity")
st.title("Capacity Planning")
reports_view.capacity_page()
