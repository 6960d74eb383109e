"""SLA review: uptime per component against the target, incident response, Compliance SLA."""

import streamlit as st

from dashboard.ui import auth, reports_view

auth.require_page("sla_review")
st.title("SLA Review")
reports_view.sla_page()
