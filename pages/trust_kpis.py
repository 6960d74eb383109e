"""Trust KPIs: the executive view of Trust Score, RA$, Sync Freshness, Drift Rate, Compliance SLA."""

import streamlit as st

from dashboard.ui import auth, components, trust_view

auth.require_page("trust_kpis")
st.title("Trust KPIs")
choice, refresh_s = components.controls(trust_view.PAGE)
components.run_refreshing(lambda: trust_view.render(choice), refresh_s)
