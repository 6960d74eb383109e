"""ORCA Ops Console: the router. Page config, the sign-in gate, then the pages the user may open."""

import streamlit as st

from dashboard.ui import auth
from dashboard.ui.navigation import run_for

st.set_page_config(page_title="ORCA Ops Console", page_icon="🐋", layout="wide")
actor = auth.gate()
if actor is not None:
    refused = run_for(actor.roles)
    if refused is not None:
        auth.refuse_page(actor, refused)
