"""Audit Trail: who did what, to what, when and with what outcome; filters and a CSV export."""

import streamlit as st

from dashboard.ui import audit_view, auth

auth.require_page("audit")
st.title("Audit Trail")
chosen = audit_view.filters()
if chosen is not None:
    audit_view.export(chosen)
    page = audit_view.load(chosen)
    if page is not None:
        audit_view.table(page)
