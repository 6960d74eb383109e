"""The header strip of every page shows the overdue checklist items (issue 11: "overdue items
visible on the page and in the header") with a link to the Checklists page, counted as the
Checklists page counts them, and a sign-off lowers it at once (its topic is bumped)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from dashboard.actions import checklists as checklist_actions
from dashboard.actions.base import system_actor
from dashboard.data import checklists
from dashboard.domain.permissions import Role
from dashboard.settings import get_settings
from tests.pages.conftest import new_app, sign_in


def _header_link(at: AppTest) -> tuple[str, str]:
    found = [
        (str(p.proto.label), str(p.proto.page))
        for p in at.main.get("page_link")
        if "Checklists overdue" in str(p.proto.label)
    ]
    assert len(found) == 1, [str(getattr(p, "proto", "")) for p in at.main.get("page_link")]
    return found[0]


def _page_count(engine: Engine) -> int:
    """What the Checklists page shows as overdue (auto checks run)."""
    with engine.connect() as conn:
        return sum(
            1
            for c in checklists.load_checklists()
            if c.cadence != "deployment"
            for v in checklists.evaluate_checklist(conn, get_settings(), c)
            if v.state == "overdue"
        )


def test_the_header_counts_overdue_items_and_links_to_checklists(
    app_env: None, seeded_engine: Engine
) -> None:
    with seeded_engine.connect() as conn:
        before = checklists.count_overdue(conn, get_settings())
    assert before == _page_count(seeded_engine) > 0
    at = new_app(sign_in(seeded_engine, Role.MANAGER))
    at.run()
    assert not at.exception, at.exception
    label, page = _header_link(at)
    assert label == f"Checklists overdue: {before}"
    assert page.endswith("checklists")

    # Sign off one overdue item that no automatic check covers: the header says one fewer.
    manual = next(
        (c.id, v.item)
        for c in checklists.load_checklists()
        if c.cadence != "deployment"
        for v in checklists.evaluate_checklist(
            seeded_engine.connect(), get_settings(), c, run_checks=False
        )
        if v.state == "overdue" and not next(i for i in c.items if i.id == v.item).auto
    )
    done = checklist_actions.sign_off(
        seeded_engine,
        system_actor("test:oncall", (Role.ONCALL,)),
        *manual,
        now=datetime.now(UTC),
    )
    assert done.outcome == "changed", done
    try:
        again = new_app(sign_in(seeded_engine, Role.MANAGER))
        again.run()
        assert not again.exception, again.exception
        assert _header_link(again)[0] == f"Checklists overdue: {before - 1}"
    finally:  # the database is shared: later tests expect this item still to be signed off
        with seeded_engine.begin() as conn:
            conn.execute(
                text(
                    "DELETE FROM checklist_signoffs WHERE checklist = :c AND item = :i "
                    "AND signed_by = 'test:oncall'"
                ),
                {"c": manual[0], "i": manual[1]},
            )
