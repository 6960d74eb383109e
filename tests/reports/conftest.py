"""A seeded database of the reports' own, where some falling agents get hostile names."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from dashboard.data import incidents, kpis
from tests.conftest import SEED_NOW, MakeDatabase

#: Names that would run as markup, formulas or reorder text if the report trusted them.
HOSTILE_NAMES = [
    '<font color="red">=HYPERLINK("http://x")</font>',
    "=cmd|' /C calc'!A0",
    "evil\u202etxt.exe",
    "<b>bold</b> & <i>co</i>",
]
PERIOD_START = (SEED_NOW - timedelta(days=2)).replace(hour=0)
PERIOD_END = SEED_NOW.replace(hour=0)


@pytest.fixture(scope="session")
def report_engine(make_database: MakeDatabase) -> Iterator[Engine]:
    from dashboard.sim.seed import seed_database

    db = make_database("orca_reports")
    engine = db.engine()
    seed_database(engine, agents=300, days=3, seed=11, now=SEED_NOW)
    with engine.begin() as conn:
        falls = kpis.summarize_trust_drivers(
            conn, start=PERIOD_START, end=PERIOD_END, limit=len(HOSTILE_NAMES)
        ).agents
        for agent_id, name in zip(falls["agent_id"], HOSTILE_NAMES, strict=False):
            conn.execute(
                text("UPDATE agents SET name = :n WHERE id = :id"), {"n": name, "id": int(agent_id)}
            )
        # Two incidents in the period with known response times: P1 acknowledged after 10 min
        # and resolved after 2 h, P2 acknowledged after 30 min and still open.
        for sev, ack, res in (("P1", 10, 120), ("P2", 30, None)):
            at = PERIOD_START + timedelta(hours=6)
            incident_id, _ = incidents.declare_incident(
                conn, title=f"report test {sev}", severity=sev, at=at, actor="test", detected_at=at
            )
            conn.execute(
                text("""UPDATE incidents SET acknowledged_at = :ack, resolved_at = :res
                        WHERE id = :id"""),
                {
                    "id": incident_id,
                    "ack": at + timedelta(minutes=ack),
                    "res": None if res is None else at + timedelta(minutes=res),
                },
            )
    yield engine
    db.drop()
