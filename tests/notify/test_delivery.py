"""Delivery to real local peers: webhook, Slack-style, PagerDuty-style HTTP and SMTP (aiosmtpd).

Time is a controllable clock, so back-off and business hours are exercised without sleeping.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from dashboard.worker.notify import CycleResult, run_notify_cycle
from tests.notify.conftest import Clock, add_point, enqueue, fast_settings, rows
from tests.notify.peers import http_peer, smtp_peer


def cycle(engine: Engine, clock: Clock, **settings: object) -> CycleResult:
    return run_notify_cycle(engine, clock=clock, settings=fast_settings(**settings))


def attempts(engine: Engine) -> list[dict[str, object]]:
    return rows(engine, "SELECT * FROM notification_attempts ORDER BY id")


def test_webhook_slack_and_pagerduty_get_their_own_shapes(nengine: Engine, clock: Clock) -> None:
    with http_peer() as hook, http_peer() as slack, http_peer(ok_status=202) as pd:
        add_point(nengine, "webhook", hook.url + "/hook/s3cr3t-token")
        add_point(nengine, "slack", slack.url + "/services/T000/B000/XXXX", audiences=["broadcast"])
        add_point(
            nengine, "pagerduty", "R0UTINGKEY0123456789", config={"url": pd.url + "/v2/enqueue"}
        )
        enqueue(nengine, at=clock(), dedupe_key="a1:firing", link="http://console/alerts")
        result = cycle(nengine, clock)
        assert (result.messages, result.sent, result.failed) == (1, 3, 0)

        assert hook.paths == ["/hook/s3cr3t-token"]
        assert hook.received[0]["severity"] == "P1"
        assert hook.received[0]["event"] == "trigger"
        assert hook.received[0]["subject"] == "Service Down firing"
        assert hook.received[0]["link"] == "http://console/alerts"
        assert slack.received[0]["text"].startswith("*[P1] Service Down firing*")
        trig = pd.received[0]
        assert trig["routing_key"] == "R0UTINGKEY0123456789"
        assert trig["event_action"] == "trigger"
        assert trig["dedup_key"] == "rule:service_down"
        assert trig["payload"]["severity"] == "critical"

        # The resolution goes out as a PagerDuty resolve with the same dedup_key.
        clock.advance(60)
        enqueue(nengine, at=clock(), dedupe_key="a1:resolved", subject="Service Down resolved")
        assert cycle(nengine, clock).sent == 3
        assert pd.received[1]["event_action"] == "resolve"
        assert pd.received[1]["dedup_key"] == "rule:service_down"
        assert slack.received[1]["text"].startswith("*[RESOLVED] Service Down resolved*")
    log = attempts(nengine)
    assert len(log) == 6 and all(a["ok"] for a in log)
    assert {a["status_code"] for a in log} == {200, 202}


def test_a_peer_that_fails_twice_then_recovers(nengine: Engine, clock: Clock) -> None:
    with http_peer(fail_first=2, fail_status=503) as hook:
        add_point(nengine, "webhook", hook.url + "/hook")
        enqueue(nengine, at=clock())
        assert cycle(nengine, clock).retry == 1
        # Not due again until the back-off (10 s, then 20 s) has passed.
        clock.advance(5)
        assert cycle(nengine, clock).outcomes == []
        clock.advance(5)
        assert cycle(nengine, clock).retry == 1
        clock.advance(19)
        assert cycle(nengine, clock).outcomes == []
        clock.advance(1)
        assert cycle(nengine, clock).sent == 1
        clock.advance(3600)
        assert cycle(nengine, clock).outcomes == []  # delivered once, never again
        assert len(hook.received) == 1 and hook.calls == 3
    log = attempts(nengine)
    assert [(a["attempt"], a["ok"], a["status_code"]) for a in log] == [
        (1, False, 503),
        (2, False, 503),
        (3, True, 200),
    ]
    assert "HTTP 503" in str(log[0]["error"])
    (delivery,) = rows(nengine, "SELECT * FROM notification_deliveries")
    assert delivery["status"] == "sent" and delivery["attempts"] == 3


def test_gives_up_after_max_attempts_and_on_a_client_error(nengine: Engine, clock: Clock) -> None:
    with http_peer(fail_first=99) as down, http_peer(ok_status=404) as wrong:
        add_point(nengine, "webhook", down.url + "/down")
        add_point(nengine, "webhook", wrong.url + "/wrong")
        enqueue(nengine, at=clock())
        for _ in range(6):
            cycle(nengine, clock, notify_max_attempts=3)
            clock.advance(3600)
        assert down.calls == 3  # max attempts
        assert wrong.calls == 1  # a 404 is not fixed by trying again
    statuses = rows(
        nengine, "SELECT status, attempts FROM notification_deliveries ORDER BY contact_point_id"
    )
    assert statuses == [{"status": "failed", "attempts": 3}, {"status": "failed", "attempts": 1}]


def test_a_hung_peer_is_cut_off_by_the_deadline_and_the_cycle_moves_on(
    nengine: Engine, clock: Clock
) -> None:
    with http_peer(hang_s=6) as hung, http_peer() as fine:
        add_point(nengine, "webhook", hung.url + "/hang", name="a-hung")
        add_point(nengine, "webhook", fine.url + "/ok", name="b-fine")
        enqueue(nengine, at=clock())
        started = time.monotonic()
        result = cycle(nengine, clock, notify_send_deadline_s=1.0, notify_read_timeout_s=5.0)
        elapsed = time.monotonic() - started
        assert sorted(result.outcomes) == ["retry", "sent"]
        assert elapsed < 4.0, elapsed
        assert len(fine.received) == 1
    failed = [a for a in attempts(nengine) if not a["ok"]]
    assert len(failed) == 1
    assert "deadline" in str(failed[0]["error"]) or "timed out" in str(failed[0]["error"])


def test_a_storm_of_200_transitions_is_one_message(nengine: Engine, clock: Clock) -> None:
    with http_peer() as slack:
        add_point(nengine, "slack", slack.url + "/services/x", audiences=["broadcast"])
        for i in range(200):
            enqueue(
                nengine,
                at=clock.now + timedelta(seconds=i * 0.1),
                dedupe_key=f"storm:{i}",
                subject=f"Drift Rate Elevated flap {i}",
                severity="warning",
                group_key="rule:drift_rate",
            )
        clock.advance(30)
        result = cycle(nengine, clock)
        assert (result.rows, result.messages, result.sent) == (200, 1, 1)
        assert len(slack.received) == 1
        text = slack.received[0]["text"]
        assert "Drift Rate Elevated flap 199 (+199 more)" in text
        assert "200 notifications for rule:drift_rate" in text
    (message,) = rows(nengine, "SELECT row_count FROM notification_messages")
    assert message["row_count"] == 200


def test_p2_waits_for_business_hours_p1_does_not(nengine: Engine, clock: Clock) -> None:
    clock.now = datetime(2026, 12, 4, 18, 30, tzinfo=UTC)  # Friday evening
    with http_peer() as hook:
        add_point(nengine, "webhook", hook.url + "/h", audiences=["oncall"])
        enqueue(nengine, at=clock(), severity="P2", group_key="rule:sync_lag", subject="Sync lag")
        enqueue(nengine, at=clock(), severity="P1", group_key="rule:db", subject="DB down")
        result = cycle(nengine, clock)
        assert (result.held, result.sent) == (1, 1)
        assert [r["subject"] for r in hook.received] == ["DB down"]
        clock.now = datetime(2026, 12, 7, 8, 59, tzinfo=UTC)  # Monday, a minute early
        assert cycle(nengine, clock).held == 1
        clock.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
        result = cycle(nengine, clock)
        assert (result.held, result.sent) == (0, 1)
        assert [r["subject"] for r in hook.received] == ["DB down", "Sync lag"]


def test_business_hours_in_another_time_zone(nengine: Engine, clock: Clock) -> None:
    # 08:30 UTC on a Wednesday is 09:30 in Berlin: inside its hours, outside UTC's.
    clock.now = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)
    with http_peer() as hook:
        add_point(nengine, "webhook", hook.url + "/h")
        enqueue(nengine, at=clock(), severity="P2")
        assert cycle(nengine, clock).held == 1
        assert cycle(nengine, clock, notify_business_tz="Europe/Berlin").sent == 1


def test_warnings_reach_broadcast_channels_only(nengine: Engine, clock: Clock) -> None:
    with http_peer() as pager, http_peer() as slack:
        add_point(nengine, "webhook", pager.url + "/p", audiences=["oncall"])
        add_point(nengine, "slack", slack.url + "/s", audiences=["broadcast"])
        enqueue(nengine, at=clock(), severity="warning", subject="p99 over 500 ms")
        enqueue(nengine, at=clock(), severity="P1", group_key="rule:down", subject="Down")
        assert cycle(nengine, clock).sent == 3
        assert [r["subject"] for r in pager.received] == ["Down"]
        assert sorted(r["text"].split("*")[1] for r in slack.received) == [
            "[P1] Down",
            "[warning] p99 over 500 ms",
        ]


def test_two_workers_at_once_deliver_each_message_once(nengine: Engine, clock: Clock) -> None:
    with http_peer(hang_s=0.05) as hook:
        add_point(nengine, "webhook", hook.url + "/h")
        for i in range(30):
            enqueue(nengine, at=clock(), group_key=f"rule:{i}", subject=f"alert {i}")
        barrier = threading.Barrier(2)
        results: list[CycleResult] = []

        def worker() -> None:
            barrier.wait()
            results.append(cycle(nengine, clock))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        # A second round finds nothing left to do.
        results.append(cycle(nengine, clock))
        subjects = sorted(r["subject"] for r in hook.received)
    assert subjects == sorted(f"alert {i}" for i in range(30))
    assert sum(r.sent for r in results) == 30
    assert results[-1].outcomes == []
    assert len(rows(nengine, "SELECT id FROM notification_messages")) == 30


def test_email_over_smtp(nengine: Engine, clock: Clock) -> None:
    with smtp_peer() as smtp:
        add_point(
            nengine,
            "email",
            "",
            config={
                "host": smtp.host,
                "port": smtp.port,
                "from_addr": "console@orca.test",
                "to": "oncall@orca.test, lead@orca.test",
            },
        )
        enqueue(nengine, at=clock(), link="http://console/alerts")
        assert cycle(nengine, clock).sent == 1
        (msg,) = smtp.messages
        assert msg["Subject"] == "[P1] Service Down firing"
        assert msg["To"] == "oncall@orca.test, lead@orca.test"
        assert smtp.envelopes[0] == ("console@orca.test", ["oncall@orca.test", "lead@orca.test"])
        assert "http://console/alerts" in msg.get_payload()


def test_starttls_is_required_when_asked_for(nengine: Engine, clock: Clock) -> None:
    with smtp_peer() as smtp:  # this server offers no STARTTLS: the send must not go in clear
        add_point(
            nengine,
            "email",
            "a password",
            config={
                "host": smtp.host,
                "port": smtp.port,
                "to": "x@orca.test",
                "starttls": True,
                "username": "console",
            },
        )
        enqueue(nengine, at=clock())
        assert cycle(nengine, clock).retry == 1
        assert smtp.messages == []
    (attempt,) = attempts(nengine)
    assert "STARTTLS" in str(attempt["error"]) or "starttls" in str(attempt["error"]).lower()


def test_email_without_a_recipient_fails_at_once(nengine: Engine, clock: Clock) -> None:
    with smtp_peer() as smtp:
        add_point(nengine, "email", "", config={"host": smtp.host, "port": smtp.port})
        enqueue(nengine, at=clock())
        assert cycle(nengine, clock).failed == 1
    assert "no recipient" in str(attempts(nengine)[0]["error"])


def test_secrets_stay_out_of_logs_and_the_delivery_log(
    nengine: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    secret_path = "/services/T0SECRET/B0SECRET/zzTopSecretWebhookToken"
    with http_peer(fail_first=99, fail_status=500) as hook:
        add_point(nengine, "slack", hook.url + secret_path)
        add_point(nengine, "webhook", "http://127.0.0.1:1/hook/AnotherSecretTokenXYZ")
        add_point(nengine, "pagerduty", "PDSECRETROUTINGKEY42", config={"url": hook.url + "/pd"})
        enqueue(nengine, at=clock())
        with caplog.at_level(logging.DEBUG):
            cycle(nengine, clock)
    dumped = caplog.text + repr(attempts(nengine))
    for secret in ("zzTopSecretWebhookToken", "AnotherSecretTokenXYZ", "PDSECRETROUTINGKEY42"):
        assert secret not in dumped
    assert "delivery" in caplog.text  # the failures were logged, just not the secrets


def test_contact_points_from_settings(
    nengine: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with http_peer() as hook:
        points = (
            '[{"name": "ops hook (settings)", "kind": "webhook", "audiences": ["oncall"],'
            f' "secret": "{hook.url}/from-settings"}},'
            ' {"name": "broken", "kind": "sms"}]'
        )
        enqueue(nengine, at=clock())
        assert cycle(nengine, clock, notify_contact_points=points).sent == 1
        assert hook.paths == ["/from-settings"]
        assert "contact point #2 in settings: The kind must be" in caplog.text
        (point,) = rows(nengine, "SELECT name, managed_by, enabled FROM contact_points")
        assert point == {"name": "ops hook (settings)", "managed_by": "settings", "enabled": True}
        # Gone from settings: disabled, not deleted (the delivery log keeps its name).
        cycle(nengine, clock, notify_contact_points="[]")
        (point,) = rows(nengine, "SELECT enabled FROM contact_points")
        assert point == {"enabled": False}
        # Not JSON: logged, delivery goes on.
        assert cycle(nengine, clock, notify_contact_points="[{").outcomes == []
        assert "not JSON" in caplog.text


def test_the_person_on_call_gets_the_mail_and_is_named(nengine: Engine, clock: Clock) -> None:
    """Audience oncall resolves through the rotation (an override here) to a user's e-mail."""
    from dashboard.data.oncall import record_override
    from dashboard.domain.oncall import OnCallRole

    name = f"pager{secrets.token_hex(3)}"
    with nengine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, email, password_hash, roles) "
                "VALUES (:u, :e, '$2b$04$abcdefghijklmnopqrstuv', '{oncall}')"
            ),
            {"u": name, "e": f"{name}@orca.test"},
        )
        record_override(
            conn,
            role=OnCallRole.PRIMARY,
            username=name,
            starts_at=clock.now - timedelta(hours=1),
            ends_at=clock.now + timedelta(hours=1),
            reason="test",
            actor="test",
        )
    with smtp_peer() as smtp, http_peer() as slack:
        add_point(nengine, "email", "", config={"host": smtp.host, "port": smtp.port})
        add_point(nengine, "slack", slack.url + "/s", audiences=["broadcast"])
        enqueue(nengine, at=clock())
        assert cycle(nengine, clock).sent == 2
        assert smtp.envelopes[0][1] == [f"{name}@orca.test"]
        assert f"For: {name}" in slack.received[0]["text"]
    log = rows(nengine, "SELECT recipient FROM notification_messages")
    assert log == [{"recipient": name}]


def test_unusable_business_hours_do_not_stop_p1(
    nengine: Engine, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with http_peer() as hook:
        add_point(nengine, "webhook", hook.url + "/h")
        enqueue(nengine, at=clock())
        assert cycle(nengine, clock, notify_business_tz="Mars/Olympus_Mons").sent == 1
        assert "business hours setting unusable" in caplog.text


def test_nothing_is_dropped_while_no_contact_point_serves_the_audience(
    nengine: Engine, clock: Clock
) -> None:
    enqueue(nengine, at=clock(), subject="first")
    enqueue(nengine, at=clock(), subject="second")
    result = cycle(nengine, clock)
    assert (result.messages, result.rows) == (0, 0)
    pending = rows(
        nengine, "SELECT count(*) AS n FROM notification_outbox WHERE status = 'pending'"
    )
    assert pending == [{"n": 2}]
    with http_peer() as hook:
        add_point(nengine, "webhook", hook.url + "/h")
        clock.advance(10)
        result = cycle(nengine, clock)
        assert (result.messages, result.rows, result.sent) == (1, 2, 1)
        assert hook.received[0]["subject"] == "second (+1 more)"


def test_an_escalation_without_its_own_contact_point_rides_the_oncall_one(
    nengine: Engine, clock: Clock
) -> None:
    with http_peer() as pager, http_peer() as boss:
        add_point(nengine, "webhook", pager.url + "/p", audiences=["oncall"])
        enqueue(nengine, at=clock(), audience="secondary", subject="NOT ACKNOWLEDGED (secondary)")
        assert cycle(nengine, clock).sent == 1
        assert [r["subject"] for r in pager.received] == ["NOT ACKNOWLEDGED (secondary)"]
        # With a manager contact point, the manager's escalation goes there only.
        add_point(nengine, "webhook", boss.url + "/m", audiences=["manager"])
        enqueue(nengine, at=clock(), audience="manager", subject="NOT ACKNOWLEDGED (manager)")
        assert cycle(nengine, clock).sent == 1
        assert [r["subject"] for r in boss.received] == ["NOT ACKNOWLEDGED (manager)"]
        assert len(pager.received) == 1
