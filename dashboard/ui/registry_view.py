"""Agent Registry page body: totals, discovery, quarantine, a keyset-paged table, agent detail."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.actions.agents import AGENT_TOPICS
from dashboard.data import agents
from dashboard.data.agent_filter import AgentFilter
from dashboard.data.errors import InvalidQuery
from dashboard.domain.enums import (
    AgentStatus,
    AgentType,
    ComplianceTier,
    DiscoverySource,
    Vendor,
    values,
)
from dashboard.ui import charts, components, loaders, pager
from dashboard.ui.markup import plain
from dashboard.ui.params import RangeChoice

PAGE = "agent_registry"
PAGE_SIZES = (25, 50, 100, 250, 1000)
SORT_LABELS = {
    "name": "Name",
    "trust_score": "Trust score",
    "discovered_at": "Discovered",
    "last_seen_at": "Last seen",
    "status": "Status",
    "type": "Type",
    "vendor": "Vendor",
    "owner": "Owner",
}
TEXT = st.column_config.TextColumn


def overview(choice: RangeChoice) -> None:
    by_status = loaders.load(
        "agents_by_status",
        agents.count_agents_by,
        dimension="status",
        ttl_s=30,
        topics=AGENT_TOPICS,
    )
    by_type = loaders.load(
        "agents_by_type", agents.count_agents_by, dimension="type", ttl_s=60, topics=AGENT_TOPICS
    )
    by_vendor = loaders.load(
        "agents_by_vendor",
        agents.count_agents_by,
        dimension="vendor",
        ttl_s=60,
        topics=AGENT_TOPICS,
    )
    disc = loaders.load(
        "discovery",
        agents.list_discovery_rate,
        start=choice.time_range.start,
        end=choice.time_range.end,
        bucket=max(choice.bucket, _hour()),
    )
    components.banner_for([by_status, by_type, disc])
    if components.frame(by_status) and by_status.value is not None:
        counts = dict(zip(by_status.value["value"], by_status.value["agents"], strict=True))
        cols = components.tile_columns(5)
        cols[0].metric("All agents", f"{sum(counts.values()):,}", border=True)
        for col, status in zip(cols[1:], values(AgentStatus), strict=True):
            col.metric(status.capitalize(), f"{counts.get(status, 0):,}", border=True)
    left, mid, right = st.columns([1, 1, 2])
    with left:
        components.chart(
            by_type,
            lambda df: charts.bars(df, "value", "agents", "Agents by type"),
            f"{PAGE}.by_type",
        )
    with mid:
        components.chart(
            by_vendor,
            lambda df: charts.bars(df, "value", "agents", "Agents by vendor"),
            f"{PAGE}.by_vendor",
        )
    with right:
        components.chart(
            disc,
            charts.discovery,
            f"{PAGE}.discovery",
            empty="No agents were discovered in this range.",
        )
    box, shown = components.lazy_expander(
        "Quarantined agents (newest 100)", f"{PAGE}.quarantined.open"
    )
    with box:
        if not shown:
            return
        quarantined = loaders.load(
            "quarantined", agents.list_quarantined_agents, limit=100, topics=AGENT_TOPICS
        )
        components.table(
            quarantined,
            f"{PAGE}.quarantined",
            file_name="quarantined_agents.csv",
            column_config={"name": TEXT("name"), "quarantine_reason": TEXT("reason")},
            empty="No agent is quarantined.",
        )


def _hour() -> Any:
    from datetime import timedelta

    return timedelta(hours=1)


def filters_from_url() -> tuple[AgentFilter, str | None]:
    try:
        return AgentFilter.from_query_params(components.query_params()), None
    except InvalidQuery as exc:
        return AgentFilter(), plain(f"Filters in the link were ignored: {exc}")


def filter_form(current: AgentFilter) -> None:
    with st.form(f"{PAGE}.filters", border=True):
        c = st.columns([3, 2, 2, 2])
        q = c[0].text_input(
            "Search name (words) or id",
            value=current.name_query or "",
            max_chars=200,
            key=f"{PAGE}.q",
        )
        owner = c[1].text_input(
            "Owner starts with", value=current.owner or "", max_chars=200, key=f"{PAGE}.owner"
        )
        tmin, tmax = c[2].slider(
            "Trust score",
            0,
            100,
            (int(current.trust_min or 0), int(current.trust_max or 100)),
            key=f"{PAGE}.trust",
        )
        statuses = c[3].multiselect(
            "Status", values(AgentStatus), default=list(current.statuses), key=f"{PAGE}.status"
        )
        d = st.columns(4)
        types = d[0].multiselect(
            "Type", values(AgentType), default=list(current.types), key=f"{PAGE}.type"
        )
        vendors = d[1].multiselect(
            "Vendor", values(Vendor), default=list(current.vendors), key=f"{PAGE}.vendor"
        )
        sources = d[2].multiselect(
            "Source", values(DiscoverySource), default=list(current.sources), key=f"{PAGE}.source"
        )
        tiers = d[3].multiselect(
            "Compliance tier",
            values(ComplianceTier),
            default=list(current.tiers),
            key=f"{PAGE}.tier",
        )
        if st.form_submit_button("Apply filters", type="primary"):
            try:
                new = AgentFilter(
                    statuses=tuple(statuses),
                    types=tuple(types),
                    vendors=tuple(vendors),
                    sources=tuple(sources),
                    tiers=tuple(tiers),
                    owner=owner or None,
                    name_query=q or None,
                    trust_min=float(tmin) if tmin > 0 else None,
                    trust_max=float(tmax) if tmax < 100 else None,
                )
            except InvalidQuery as exc:
                st.error(plain(exc))
                return
            keep = {
                k: v
                for k, v in components.query_params().items()
                if k in ("range", "refresh", "sort", "desc", "size")
            }
            st.query_params.from_dict({**keep, **new.to_query_params()})
            pager.reset(PAGE)
            st.rerun()


def table(current: AgentFilter) -> None:
    qp = components.query_params()
    sort = qp.get("sort", "name") if qp.get("sort") in SORT_LABELS else "name"
    desc = qp.get("desc") == "1"
    raw_size = qp.get("size", "")
    # Length first: int() refuses strings of more than 4,300 digits with a ValueError.
    size = int(raw_size) if raw_size.isdigit() and len(raw_size) <= 4 else 50
    size = size if size in PAGE_SIZES else 50
    c = st.columns([2, 2, 1, 3])
    new_sort = c[0].selectbox(
        "Sort by",
        list(SORT_LABELS),
        index=list(SORT_LABELS).index(sort),
        format_func=SORT_LABELS.__getitem__,
        key=f"{PAGE}.sort",
    )
    new_desc = c[1].toggle("Descending", value=desc, key=f"{PAGE}.desc")
    new_size = c[2].selectbox("Rows", PAGE_SIZES, index=PAGE_SIZES.index(size), key=f"{PAGE}.size")
    if (new_sort, new_desc, new_size) != (sort, desc, size):
        st.query_params.update(
            {"sort": new_sort, "desc": "1" if new_desc else "0", "size": str(new_size)}
        )
        pager.reset(PAGE)
        st.rerun()
    scope = {"filters": current.to_query_params(), "sort": sort, "desc": desc, "size": size}
    cursor = pager.current(PAGE, scope)
    page = loaders.load(
        "agent_page",
        agents.search_agents,
        filters=current,
        sort=sort,
        descending=desc,
        cursor=cursor,
        page_size=size,
        ttl_s=15,
        topics=AGENT_TOPICS,
    )
    if page.state == "error" and cursor is not None:
        pager.reset(PAGE)
    estimate = page.value.total_estimate if page.value is not None else None
    number = pager.page_number(PAGE)
    c[3].caption(
        f"Page {number} · about {estimate:,} matching agents"
        if estimate is not None
        else f"Page {number}"
    )
    rows = page.value.rows if page.value is not None else pd.DataFrame()
    panel = loaders.Panel(
        rows,
        "empty" if page.state == "ok" and rows.empty else page.state,
        page.message,
        page.computed_at,
        page.cache_degraded,
        page.error,
    )
    picked = components.table(
        panel,
        f"{PAGE}.agents",
        file_name="agents_page.csv",
        empty="No agent matches these filters.",
        column_config=REGISTRY_COLUMN_CONFIG,
        select_row=True,
    )
    if picked is not None:
        st.query_params["agent"] = str(int(rows.iloc[picked]["id"]))
        st.rerun()
    pager.controls(PAGE, page.value.next_cursor if page.value is not None else None)
    # Keyboard users (and anyone with an id at hand) open an agent by its id.
    st.caption("Click a row to open that agent, or type its id.")
    with st.form(f"{PAGE}.open", border=False):
        o = st.columns([2, 1])
        agent_id = o[0].number_input(
            "Open agent by id",
            min_value=1,
            step=1,
            value=None,
            key=f"{PAGE}.open_id",
            label_visibility="collapsed",
            placeholder="Agent id to open…",
        )
        if o[1].form_submit_button("Open agent") and agent_id:
            st.query_params["agent"] = str(int(agent_id))
            st.rerun()


REGISTRY_COLUMN_CONFIG: dict[str, Any] = {
    "id": st.column_config.NumberColumn("id", format="%d"),
    "name": TEXT("name", width="large"),
    "owner": TEXT("owner"),
    "model": TEXT("model"),
    "trust_score": st.column_config.ProgressColumn(
        "trust", min_value=0, max_value=100, format="%.1f"
    ),
    "discovered_at": st.column_config.DatetimeColumn("discovered", format="YYYY-MM-DD HH:mm"),
    "last_seen_at": st.column_config.DatetimeColumn("last seen", format="YYYY-MM-DD HH:mm"),
}
