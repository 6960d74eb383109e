"""Checklists: daily, weekly, monthly, quarterly and post-deployment, auto-checked where the
console can, signed off by on-call or admins otherwise (everyone reads)."""

import streamlit as st

from dashboard.ui import auth, checklists_view

auth.require_page("checklists")
st.title("Maintenance checklists")
checklists_view.render()
