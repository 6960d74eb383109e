"""Trust KPIs: the executive view of Trust Score, RA$, Sync Freshness, Drift Rate, Compliance SLA."""

import streamlit as st

from dashboard.ui import components, trust_view

st.title("Trust KPIs")
choice, refresh_s = components.controls(trust_view.PAGE)
components.run_refreshing(lambda: trust_view.render(choice), refresh_s)
