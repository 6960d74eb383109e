"""The console as an ASGI app: Streamlit's public st.App running streamlit_app.py, plus the
console's HTTP guards (security headers, same-origin websocket, downloads only with a live
session, the HttpOnly session cookie) and Prometheus' /metrics. `python -m dashboard.ui.serve`
runs this file; it is loaded once per server process, so telemetry is set up once here."""

import streamlit as st

from dashboard.ui import heap, observability, session_reaper
from dashboard.ui.http_guard import MIDDLEWARE, ROUTES, under_base_path
from dashboard.ui.status_page import STATUS_ROUTES

observability.start()
# Closed tabs' sessions leave memory when their reconnect window ends (session_reaper.py).
session_reaper.start()
# Streamlit collects garbage after every script run: keep the long-lived heap out of it (heap.py).
heap.freeze_long_lived()
# /status: the public, read-only status page (issue 10), plain HTML without sign-in.
app = st.App(
    "streamlit_app.py",
    # Under server.baseUrlPath like Streamlit's own routes (a console behind a proxy at /orca/).
    routes=under_base_path([*ROUTES, *STATUS_ROUTES, observability.METRICS_ROUTE]),
    middleware=MIDDLEWARE,
)
