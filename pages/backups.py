"""Backups: the last good backup and its age, history, restores, DR drills (everyone reads;
on-call and admins back up, restore and drill)."""

import streamlit as st

from dashboard.ui import auth, backups_view

auth.require_page("backups")
st.title("Backups")
backups_view.render()
