"""Alerts: what is firing now, who owns it, what is silenced, and everything that happened."""

import streamlit as st

from dashboard.ui import alerts_view, auth

auth.require_page("alerts")
st.title("Alerts")
alerts_view.render()
