"""Doctor: settings, PostgreSQL, migrations, pgvector, Redis, ORCA Core, collector, worker,
disk, backups and certificates, one line each with its fix (everyone reads)."""

import streamlit as st

from dashboard.ui import auth, doctor_view

auth.require_page("doctor")
st.title("Doctor")
doctor_view.render()
