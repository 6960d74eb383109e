"""Reports: generate an executive summary, SLA or capacity review, and download filed ones."""

import streamlit as st

from dashboard.ui import auth, reports_view

auth.require_page("reports")
st.title("Reports")
st.caption(
    "The worker files last month's executive summary and capacity review on the 1st of each "
    "month, and last quarter's SLA review in a quarter's first month."
)
reports_view.generate_form("reports.generate")
reports_view.past_reports()
