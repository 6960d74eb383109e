"""Agent Registry: what agents exist, which are quarantined, and everything about one of them."""

import streamlit as st

from dashboard.ui import agent_actions, agent_view, auth, components, registry_view

auth.require_page("agent_registry")
agent_id = agent_view.parse_agent_id(components.query_params().get("agent"))
if agent_id is not None:
    st.title("Agent detail")
    agent_view.render(agent_id)
else:
    st.title("Agent Registry")
    choice, refresh_s = components.controls(registry_view.PAGE)
    components.run_refreshing(lambda: registry_view.overview(choice), refresh_s)
    st.subheader("Agents")
    current, warning = registry_view.filters_from_url()
    if warning:
        st.warning(warning)
    registry_view.filter_form(current)
    agent_actions.bulk_control(current)
    registry_view.table(current)
