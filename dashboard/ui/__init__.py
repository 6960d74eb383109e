"""Streamlit adapters: resources, cached loaders, widgets, components, charts (the only streamlit code)."""
