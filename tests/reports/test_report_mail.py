"""The monthly report's PDF reaches every manager with an address, through a real SMTP server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from dashboard.actions.base import cli_actor
from dashboard.actions.users import add_user, disable_user, set_email
from dashboard.data import notify_store, report_store
from dashboard.reports.mailing import deliver_report_mail, queue_report_mail
from dashboard.reports.scheduled import file_scheduled_reports
from dashboard.settings import Settings
from dashboard.worker.notify import run_notify_cycle
from tests.conftest import MakeDatabase
from tests.notify.conftest import Clock, add_point, fast_settings
from tests.notify.peers import smtp_peer

PASSWORD = "a long enough password 1"
NOW = datetime(2027, 3, 1, 0, 5, tzinfo=UTC)


@pytest.fixture()
def mail_engine(make_database: MakeDatabase) -> Iterator[Engine]:
    with make_database("orca_report_mail") as db:
        engine = db.engine()
        yield engine
        engine.dispose()


def _users(engine: Engine) -> None:
    actor = cli_actor()
    for name, roles, mail in (
        ("mgr-ann", ["manager"], "ann@orca.test"),
        ("mgr-bob", ["manager", "operator"], None),  # gets an address below
        ("mgr-nomail", ["manager"], None),
        ("mgr-gone", ["manager"], "gone@orca.test"),  # disabled below
        ("op-olga", ["operator"], "olga@orca.test"),  # not a manager
        ("root", ["admin"], None),  # the last admin, so that disabling a manager is allowed
    ):
        result = add_user(engine, actor, name, password=PASSWORD, roles=roles, email=mail)
        assert result.outcome == "changed", result.message
    assert set_email(engine, actor, "mgr-bob", "bob@orca.test").outcome == "changed"
    assert set_email(engine, actor, "mgr-bob", " bob@orca.test ").outcome == "noop"
    assert set_email(engine, actor, "mgr-bob", "not an address").outcome == "invalid"
    assert disable_user(engine, actor, "mgr-gone").outcome == "changed"


def _settings() -> Settings:
    return fast_settings(notify_cycle_deadline_s=30.0)


def test_monthly_report_pdf_reaches_each_manager_once(mail_engine: Engine) -> None:
    _users(mail_engine)
    with smtp_peer() as smtp:
        add_point(
            mail_engine,
            "email",
            "",
            audiences=("broadcast",),
            config={
                "host": smtp.host,
                "port": smtp.port,
                "from_addr": "console@orca.test",
                "to": "ops-list@orca.test",  # the point's own list: not where the PDF goes
            },
        )
        filed = file_scheduled_reports(mail_engine, now=NOW)
        report_id = int(filed["executive"] or 0)
        assert report_id and filed["capacity"]
        # A second worker filing the same month files nothing and mails nothing.
        assert file_scheduled_reports(mail_engine, now=NOW + timedelta(minutes=1)) == {}

        # Two workers deliver at once: each manager still gets each report once.
        results = []

        def worker() -> None:
            results.append(deliver_report_mail(mail_engine, clock=Clock(NOW), settings=_settings()))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert sum(r.sent for r in results) == 4  # 2 managers x (executive + capacity)
        assert sum(r.retry + r.failed for r in results) == 0
        assert deliver_report_mail(mail_engine, clock=Clock(NOW), settings=_settings()).sent == 0

        recipients = sorted(rcpt for _, rcpts in smtp.envelopes for rcpt in rcpts)
        assert recipients == ["ann@orca.test"] * 2 + ["bob@orca.test"] * 2
        with mail_engine.connect() as conn:
            name, pdf = report_store.get_report_file(conn, report_id=report_id, fmt="pdf") or (
                "",
                b"",
            )
        executive = [m for m in smtp.messages if "Executive summary" in str(m["Subject"])]
        assert len(executive) == 2
        for msg in executive:
            assert msg["From"] == "console@orca.test"
            parts = [p for p in msg.walk() if p.get_content_disposition() == "attachment"]
            assert [p.get_filename() for p in parts] == [name]
            assert parts[0].get_content_type() == "application/pdf"
            assert parts[0].get_payload(decode=True) == pdf and pdf.startswith(b"%PDF-")
            body = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
            assert "attached as a PDF" in bytes(body.get_payload(decode=True)).decode()

        # The delivery log shows one successful try per manager and report.
        with mail_engine.connect() as conn:
            log = notify_store.list_delivery_log(conn)
            outbox = conn.execute(
                text(
                    "SELECT count(*) FROM notification_outbox WHERE dedupe_key LIKE 'report-mail:%'"
                )
            ).scalar_one()
        mailed = log[log["subject"].str.contains("Executive summary")]
        assert sorted(mailed["recipient"]) == ["mgr-ann", "mgr-bob"]
        assert mailed["ok"].all() and (mailed["delivery_status"] == "sent").all()
        assert outbox == 2  # one dedupe row per filed report

        # The notifier sends the broadcast notice to the point's own list, never the PDFs.
        before = len(smtp.messages)
        run_notify_cycle(mail_engine, clock=Clock(NOW), settings=_settings())
        new = smtp.messages[before:]
        assert new and all(m["To"] == "ops-list@orca.test" for m in new)
        assert not any(p.get_content_disposition() == "attachment" for m in new for p in m.walk())

        # Queuing the same report again (another worker's retry) adds nothing.
        with mail_engine.begin() as conn:
            files = report_store.ReportFiles(
                kind="executive",
                title="again",
                period_start=NOW,
                period_end=NOW,
                generated_at=NOW,
                pdf=b"",
                csv=b"",
                xlsx=b"",
                summary={},
            )
            assert queue_report_mail(conn, files, report_id=report_id, now=NOW) == 0


def test_no_smtp_point_means_no_report_mail(mail_engine: Engine) -> None:
    _users(mail_engine)
    filed = file_scheduled_reports(mail_engine, now=NOW)
    assert filed["executive"]
    with mail_engine.connect() as conn:
        queued = conn.execute(
            text("SELECT count(*) FROM notification_deliveries WHERE report_id IS NOT NULL")
        ).scalar_one()
    assert queued == 0


def test_failed_send_is_retried_and_logged(mail_engine: Engine) -> None:
    _users(mail_engine)
    with smtp_peer() as smtp:
        port = smtp.port
    # Nothing listens on the port now: the try fails, is logged and waits for its backoff.
    add_point(mail_engine, "email", "", config={"host": "127.0.0.1", "port": port})
    file_scheduled_reports(mail_engine, now=NOW)
    first = deliver_report_mail(mail_engine, clock=Clock(NOW), settings=_settings())
    assert first.retry == 4 and first.sent == 0
    with mail_engine.connect() as conn:
        log = notify_store.list_delivery_log(conn)
    assert len(log) == 4 and not log["ok"].any() and log["error"].str.startswith("SMTP").all()
    later = Clock(NOW + timedelta(minutes=5))
    with smtp_peer() as again:
        # The backoff passed: a server is back on some port; point the contact point at it.
        with mail_engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE contact_points SET config = jsonb_set(config, '{port}', to_jsonb(:p))"
                ),
                {"p": again.port},
            )
        assert deliver_report_mail(mail_engine, clock=later, settings=_settings()).sent == 4
        assert len(again.messages) == 4
