"""Troubleshooting: the guide's four flows, step by step, each with its data and the runbook
that fixes it (everyone reads)."""

import streamlit as st

from dashboard.ui import auth, troubleshooting_view

auth.require_page("troubleshooting")
st.title("Guided troubleshooting")
troubleshooting_view.render()
