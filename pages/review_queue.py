"""Review Queue: newly discovered agents, oldest first, approved or rejected (operators)."""

import streamlit as st

from dashboard.ui import auth, review_view

auth.require_page("review_queue")
st.title("Discovery Review Queue")
page = review_view.load()
if page is not None:
    review_view.queue(page)
