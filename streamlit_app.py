"""ORCA Ops Console: the router. Page config, then the pages the user may open."""

import streamlit as st

from dashboard.ui.navigation import build_navigation

st.set_page_config(page_title="ORCA Ops Console", page_icon="🐋", layout="wide")
build_navigation().run()
