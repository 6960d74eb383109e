"""The bare Streamlit page the browser bench times beside the dashboards: a title and a line.

Its load is what Streamlit's own front end costs on the machine at hand (start its JavaScript,
open the websocket, run a two-line script, render two elements), so a dashboard's figure can be
read against it: the same commit measures 1.3-1.7x slower on one 2-core VM than on another.
"""

import streamlit as st

st.title("Floor")
st.write("A bare Streamlit page: a title and one line of text.")
