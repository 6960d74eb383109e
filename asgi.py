"""The console as an ASGI app: Streamlit's public st.App running streamlit_app.py, plus the
console's HTTP guards (security headers, same-origin websocket, downloads only with a live
session, the HttpOnly session cookie). `python -m dashboard.ui.serve` runs this file."""

import streamlit as st

from dashboard.ui.http_guard import MIDDLEWARE, ROUTES
from dashboard.ui.status_page import STATUS_ROUTES

# /status: the public, read-only status page (issue 10), plain HTML without sign-in.
app = st.App("streamlit_app.py", routes=[*ROUTES, *STATUS_ROUTES], middleware=MIDDLEWARE)
