"""Service Health: is ORCA Core up, fast and error-free right now? (for on-call engineers)"""

import streamlit as st

from dashboard.ui import auth, components, health_view

auth.require_page("service_health")
st.title("Service Health")
choice, refresh_s = components.controls(health_view.PAGE)
components.run_refreshing(lambda: health_view.render(choice), refresh_s)
