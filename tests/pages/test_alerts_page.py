"""The Alerts page under AppTest: worst first, hostile text shown as text, ack by on-call only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import redis
from sqlalchemy import Engine, text

from dashboard.actions.agents import release_agent
from dashboard.actions.base import system_actor
from dashboard.data import alerts as store
from dashboard.data.alert_rules import current_rules
from dashboard.domain.permissions import Role
from dashboard.ui.alerts_view import form_key
from tests.alerts.support import firing_alert
from tests.pages.conftest import new_app, sign_in

HOSTILE = "instance=<img src=x onerror=alert(1)>[click](https://evil.example)**bold**"


def _publish(engine: Engine, client: redis.Redis) -> None:
    with engine.connect() as conn:
        store.publish(conn, client, current_rules(), now=datetime.now(UTC))


def _all_text(at: object) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "success", "error"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def test_oncall_sees_worst_first_and_acknowledges(
    app_env: None, seeded_engine: Engine, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    with seeded_engine.begin() as conn:
        conn.execute(text("DELETE FROM alert_states"))
    warn_key = firing_alert(seeded_engine, rule_id="disk_high", labels=HOSTILE)
    p1_key = firing_alert(
        seeded_engine, rule_id="service_down", severity="P1", value=1.0, threshold=0.5, labels=""
    )
    _publish(seeded_engine, client)
    at = new_app(sign_in(seeded_engine, Role.ONCALL))
    at.switch_page("pages/alerts.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Alerts"
    heads = [m.value for m in at.markdown if "FIRING" in m.value]
    assert "Service Down" in heads[0] and "Disk over 80" in heads[1]  # P1 before warning
    # Hostile labels: every markup character escaped (shown as text, never a link or image).
    hostile = heads[1]
    shown_labels = hostile.split(" · ", 3)[-1]
    assert re.search(r"(?<!\\)[<\[*]", shown_labels) is None, hostile  # no unescaped markup
    assert "\\<img" in hostile
    assert "\\[click\\]" in hostile and "\\*\\*bold\\*\\*" in hostile
    assert "service_restart" in _all_text(at).replace("\\", "")
    # The rule's runbook is a button of the console: the alert links to it.
    assert any("Runbook: Service Restart" in link.proto.label for link in at.get("page_link"))
    # Acknowledge the P1: note -> preview -> confirm.
    # The forms sit below the refreshing list, for the chosen alert (the worst by default).
    assert at.selectbox(key="alerts.act.alert").value == p1_key
    form = form_key(p1_key)
    at.text_input(key=f"{form}.note").set_value("<b>looking</b> [x](javascript:1)").run()
    at.button(key=f"{form}.ack.preview").click().run()
    assert not at.exception, at.exception
    at.button(key=f"{form}.ack.confirm").click().run()
    assert not at.exception, at.exception
    assert any("you own this alert" in s.value for s in at.success)
    with seeded_engine.connect() as conn:
        acked = conn.execute(
            text("SELECT acked_key, ack_note FROM alert_states WHERE rule_id = 'service_down'")
        ).one()
    assert acked.acked_key == p1_key and acked.ack_note == "<b>looking</b> [x](javascript:1)"
    shown = [i.value for i in at.info if "Acknowledged by" in i.value]
    assert shown and "\\<b\\>looking" in shown[0]
    assert warn_key


def test_the_header_strip_counts_firing_p1_and_p2(
    app_env: None, seeded_engine: Engine, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    with seeded_engine.begin() as conn:
        conn.execute(text("DELETE FROM alert_states"))
    firing_alert(seeded_engine, rule_id="service_down", severity="P1", labels="")
    firing_alert(seeded_engine, rule_id="sync_lag_high", severity="P2", labels="")
    firing_alert(seeded_engine, rule_id="drift_rate_elevated", severity="P2", labels="")
    _publish(seeded_engine, client)
    # The router draws the strip above whatever page runs (here the default, Service Health).
    # AppTest drops the router's elements after switch_page (the browser test covers that).
    at = new_app(sign_in(seeded_engine, Role.MANAGER))
    at.run()
    assert not at.exception, at.exception
    values = [m.value for m in at.markdown]
    assert any("P1 firing: 1" in v for v in values), values[:5]
    assert any("P2 firing: 2" in v for v in values), values[:5]
    assert any("On call now" in v for v in values)


def test_manager_reads_but_cannot_act(app_env: None, seeded_engine: Engine, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    firing_alert(seeded_engine, rule_id="disk_high")
    _publish(seeded_engine, client)
    at = new_app(sign_in(seeded_engine, Role.MANAGER))
    at.switch_page("pages/alerts.py").run()
    assert not at.exception, at.exception
    assert [m.value for m in at.markdown if "FIRING" in m.value]
    assert not [b for b in at.button if str(b.key).endswith((".ack.preview", ".sil.preview"))]
    assert any("You can read alerts" in c.value for c in at.caption)


def test_operator_quarantines_an_agent_behind_a_trust_alert(
    app_env: None, seeded_engine: Engine, redis_url: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    with seeded_engine.begin() as conn:
        conn.execute(text("DELETE FROM alert_states"))
    trust_key = firing_alert(
        seeded_engine, rule_id="trust_score_watch", value=66.0, threshold=70.0, labels=""
    )
    _publish(seeded_engine, client)
    form = form_key(trust_key)
    at = new_app(sign_in(seeded_engine, Role.OPERATOR))
    at.switch_page("pages/alerts.py").run()
    assert not at.exception, at.exception
    # Operators cannot acknowledge (manage_alerts) but may quarantine the agents behind it.
    assert not [b for b in at.button if str(b.key).endswith(".ack.preview")]
    picked = at.selectbox(key=f"{form}.agent").value
    assert isinstance(picked, int)
    at.text_input(key=f"{form}.reason").set_value("trust alert: lowest score").run()
    at.button(key=f"{form}.q.preview").click().run()
    assert not at.exception, at.exception
    at.button(key=f"{form}.q.confirm").click().run()
    assert not at.exception, at.exception
    with seeded_engine.connect() as conn:
        row = conn.execute(
            text("SELECT status, quarantine_reason FROM agents WHERE id = :i"), {"i": picked}
        ).one()
        audited = conn.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'agent.quarantine' "
                "AND target_id = :i AND outcome = 'ok'"
            ),
            {"i": str(picked)},
        ).scalar_one()
    # Put the shared seeded agent back (other page tests count the seeded registry).
    assert release_agent(seeded_engine, system_actor("test:alerts"), picked, "test done").ok
    assert row.status == "quarantined" and row.quarantine_reason == "trust alert: lowest score"
    assert audited == 1


def test_the_history_tab_pages_with_next_and_previous(
    app_env: None, seeded_engine: Engine, redis_url: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with seeded_engine.begin() as conn:  # 130 rows of one rule: more than one page
        conn.execute(
            text(
                """INSERT INTO alert_history (at, kind, alert_key, rule_id, severity, to_state,
                       note)
                   SELECT :now - make_interval(secs => g * 30), 'escalated', 'page' || g,
                          'backup_stale', 'P2', 'secondary', 'row ' || g
                   FROM generate_series(1, 130) AS g"""
            ),
            {"now": now},
        )
    at = new_app(sign_in(seeded_engine, Role.MANAGER))
    at.switch_page("pages/alerts.py").run()
    at.selectbox(key="alerts.h.rule").set_value("backup_stale").run()
    assert not at.exception, at.exception

    with seeded_engine.connect() as conn:  # what the two pages must hold, in this order
        expected = [
            int(i)
            for (i,) in conn.execute(
                text(
                    "SELECT id FROM alert_history WHERE rule_id = 'backup_stale' "
                    "AND at >= :since ORDER BY at DESC, id DESC"
                ),
                {"since": now - timedelta(hours=23)},
            )
        ]
    assert len(expected) > store.HISTORY_PAGE

    def shown_ids() -> list[int]:
        (table,) = [d for d in at.dataframe if "note" in d.value.columns]
        return [int(i) for i in table.value["id"]]

    first = shown_ids()
    assert first == expected[: store.HISTORY_PAGE]
    assert any("page 1" in c.value for c in at.caption)
    at.button(key="alerts.h.pager.next").click().run()
    assert not at.exception, at.exception
    assert shown_ids() == expected[store.HISTORY_PAGE : 2 * store.HISTORY_PAGE]
    assert any("page 2" in c.value for c in at.caption)
    assert at.button(key="alerts.h.pager.next").disabled == (
        len(expected) <= 2 * store.HISTORY_PAGE
    )
    at.button(key="alerts.h.pager.prev").click().run()
    assert shown_ids() == first
