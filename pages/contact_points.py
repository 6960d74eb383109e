"""Contact points: where notifications go, how they are routed, and the delivery log."""

import streamlit as st

from dashboard.ui import auth, contact_points_view

auth.require_page("contact_points")
st.title("Contact points")
contact_points_view.render()
