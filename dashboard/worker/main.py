"""The worker loop: one leader (PostgreSQL advisory lock) runs each job on its interval."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from dashboard import telemetry
from dashboard.data import kpis, live, panels, rollups, totals, trust_rollups
from dashboard.data import leader as leader_lock
from dashboard.data.alert_rules import current_rules
from dashboard.data.cache import SharedCache, bump_topics
from dashboard.data.report_store import REPORT_TOPICS
from dashboard.db.app_role import install_app_role
from dashboard.db.engine import make_engine
from dashboard.domain.alerting import RuleError
from dashboard.domain.timebuckets import PRESETS
from dashboard.integrations.redis_client import make_redis
from dashboard.reports import capacity as capacity_review
from dashboard.reports.mailing import deliver_report_mail
from dashboard.reports.scheduled import file_scheduled_reports
from dashboard.settings import get_settings
from dashboard.worker.alerts import run_alert_cycle
from dashboard.worker.db_watch import RULE_ID as DB_RULE_ID
from dashboard.worker.db_watch import DbWatch
from dashboard.worker.notify import run_notify_cycle
from dashboard.worker.probes import run_probe_job
from dashboard.worker.sync import SyncJob

log = logging.getLogger(__name__)

# Any fixed number works; it only has to be the same in every worker replica.
LEADER_LOCK_ID = 0x0CA_0001
RAW_RETENTION_DAYS = 35


@dataclass
class Job:
    name: str
    interval_s: float
    run: Callable[[], object]
    next_at: float = 0.0
    last_error: str | None = field(default=None)


def _now() -> datetime:
    return datetime.now(UTC)


class Worker:
    """Runs the jobs while it holds the leader lock; followers only keep their heartbeat."""

    def __init__(self, engine: Engine) -> None:
        settings = get_settings()
        self.engine = engine
        self.redis = make_redis()
        self.stop_event = threading.Event()
        self._lock_conn: Connection | None = None
        self.jobs = [
            Job("partitions", 3600, self.job_partitions),
            Job("rollups", settings.rollup_interval_s, self.job_rollups),
            Job("kpi_snapshot", settings.kpi_interval_s, self.job_kpi_snapshot),
            Job("trust_pools", 300, self.job_trust_pools),
            Job("probes", settings.probe_interval_s, self.job_probes),
            Job("sync", settings.sync_interval_s, SyncJob(self.engine, self.redis)),
            Job("refresh_ahead", settings.refresh_ahead_interval_s, self.job_refresh_ahead),
            Job("reports", settings.reports_check_interval_s, self.job_reports),
            Job("capacity_sample", settings.capacity_sample_interval_s, self.job_capacity_sample),
            Job("notify", settings.notify_interval_s, self.job_notify),
            Job("report_mail", settings.notify_interval_s, self.job_report_mail),
            Job("alerts", settings.alert_interval_s, self.job_alerts),
            Job("backup", 300, self.job_backup),  # issue 11 (ops): due check every 5 min
            Job("runbook_reaper", 15, self.job_runbook_reaper),
            Job("scratch_cleanup", 300, self.job_scratch_cleanup),
        ]
        self.cache = SharedCache(self.redis, namespace=panels.CACHE_NAMESPACE)
        self._probed = False
        self.db_watch = self._make_db_watch()

    def _make_db_watch(self) -> DbWatch | None:
        """The Database Unreachable watch (Redis only; see dashboard.worker.db_watch)."""
        try:
            rule = current_rules().get(DB_RULE_ID)
        except (RuleError, OSError) as exc:
            log.warning("database watch off: the rules cannot be read (%s)", exc)
            return None
        if rule is None:
            return None
        url = self.engine.url.render_as_string(hide_password=False)
        return DbWatch(self.redis, self.engine, rule, database_url=url)

    # -- leadership -------------------------------------------------------------------------
    def is_leader(self) -> bool:
        """Hold a session-level advisory lock on a dedicated connection; re-try when lost."""
        try:
            if self._lock_conn is not None:
                if leader_lock.still_holds_lock(self._lock_conn, lock_id=LEADER_LOCK_ID):
                    return True
                log.warning("this worker lost the leader lock; stepping down")
                self._lock_conn.close()
                self._lock_conn = None
            conn = self.engine.connect()
            if leader_lock.try_leader_lock(conn, lock_id=LEADER_LOCK_ID):
                self._lock_conn = conn
                log.info("this worker is the leader")
                return True
            conn.close()
        except SQLAlchemyError as exc:
            log.warning("leader check failed: %s", exc.__class__.__name__)
            if self._lock_conn is not None:
                self._lock_conn.invalidate()
                self._lock_conn = None
        return False

    def release_leadership(self) -> None:
        """Unlock before the connection goes back to the pool (the lock is per connection)."""
        if self._lock_conn is None:
            return
        try:
            leader_lock.release_lock(self._lock_conn, lock_id=LEADER_LOCK_ID)
            self._lock_conn.close()
        except SQLAlchemyError:
            self._lock_conn.invalidate()
        self._lock_conn = None

    # -- jobs -------------------------------------------------------------------------------
    def job_partitions(self) -> object:
        today = _now().date()
        with self.engine.begin() as conn:
            rollups.ensure_partitions(
                conn, first_day=today - timedelta(days=1), last_day=today + timedelta(days=3)
            )
            return rollups.drop_partitions_before(
                conn, cutoff=today - timedelta(days=RAW_RETENTION_DAYS)
            )

    def job_rollups(self) -> object:
        # Two hours back: late rows for the previous hour are folded in too.
        now = _now()
        since = now - timedelta(hours=2)
        with self.engine.begin() as conn:
            written = rollups.refresh_rollups(conn, since=since)
            written.update(trust_rollups.refresh_trust_rollups(conn, since=since, through=now))
            written["agent_total_deltas folded"] = totals.compact_totals(conn)
            return written

    def job_kpi_snapshot(self) -> object:
        now = _now()
        with self.engine.begin() as conn:
            snapshot = kpis.compute_kpi_snapshot(conn, now=now)
            kpis.record_kpi_snapshot(conn, snapshot=snapshot, origin="worker")
        return snapshot

    def job_trust_pools(self) -> object:
        """The steepest trust falls of every preset range ending at the console's current hour,
        kept in PostgreSQL: a viewer's cold "whose trust fell most" reads one row instead of
        every agent's history (the rollups' refresh drops a pool that late scorings change)."""
        now = _now()
        end = panels.floor_to(panels.console_now(now, get_settings().fixed_now), panels.DRIVER_STEP)
        with self.engine.begin() as conn:
            return kpis.refresh_fall_pools(conn, end=end, spans=tuple(PRESETS.values()), now=now)

    def job_refresh_ahead(self) -> object:
        """Renew the dashboards' default-range entries before they expire (no viewer waits)."""
        settings = get_settings()
        if settings.database_url is None:
            return {}
        return panels.refresh_ahead(
            self.engine,
            self.cache,
            database=settings.database_url,
            at=_now(),
            fixed_now=settings.fixed_now,
        )

    def job_reports(self) -> object:
        """File last month's executive summary and capacity review (and, in a quarter's first
        month, last quarter's SLA review) when they are missing: on the 1st, or at the first
        run after a worker was down then."""
        filed = file_scheduled_reports(self.engine, now=_now())
        if any(filed.values()):
            bump_topics(self.redis, REPORT_TOPICS)  # the Reports page lists them at once
        return filed

    def job_capacity_sample(self) -> object:
        with self.engine.begin() as conn:
            return capacity_review.record_today(conn, self.redis, now=_now())

    def job_probes(self) -> object:
        # Before the first cycle this worker has written no heartbeat yet: it is starting.
        starting = not self._probed
        self._probed = True
        return run_probe_job(self.engine, self.redis, starting=starting)

    def job_notify(self) -> object:
        """Deliver the notification outbox (grouping, business hours, retries)."""
        return run_notify_cycle(self.engine)

    def job_report_mail(self) -> object:
        """Send the filed reports' PDFs to the managers (queued when each report is filed)."""
        return deliver_report_mail(self.engine)

    def job_alerts(self) -> object:
        """Evaluate every alert rule (issue 10); state and history in PostgreSQL, live in Redis."""
        return run_alert_cycle(self.engine, self.redis, interval_s=get_settings().alert_interval_s)

    def job_backup(self) -> object:
        """The scheduled backup (leader only, like every job): when the last good one is due."""
        from dashboard.data import backups

        settings = get_settings()
        if not settings.backup_schedule_enabled or settings.database_url is None:
            return "disabled"
        with self.engine.connect() as conn:
            age = backups.get_last_backup_age_s(conn)
        if age is not None and age < settings.backup_interval_h * 3600:
            return "not due"
        done = backups.run_backup(
            self.engine,
            settings,
            database_url=settings.database_url,
            redis_url=settings.redis_url,
            trigger="schedule",
            requested_by="worker",
        )
        if not done.ok and done.backup_id is not None:
            raise RuntimeError(done.message)
        log.info("%s", done.message)
        return done.message

    def job_scratch_cleanup(self) -> object:
        """Drop restored scratch databases (orca_restore_…) past backup_restore_keep_h."""
        from dashboard.data import backups

        settings = get_settings()
        if settings.database_url is None:
            return "no database"
        dropped = backups.prune_scratch_databases(
            self.engine, settings.database_url, keep_h=settings.backup_restore_keep_h
        )
        if dropped:
            bump_topics(self.redis, ("backups",))
        return f"dropped {len(dropped)}"

    def job_runbook_reaper(self) -> object:
        """Fail runbook runs whose executor died mid-run and release their target locks."""
        from dashboard.data import runbook_runs

        with self.engine.begin() as conn:
            lost = runbook_runs.reap_lost_runs(
                conn,
                self.redis,
                stale_after_s=get_settings().runbook_stale_after_s,
                now=_now(),
            )
        if lost:
            bump_topics(self.redis, ("runbooks", "incidents"))
        return f"{len(lost)} lost runs failed"

    # -- loop -------------------------------------------------------------------------------
    def run_due(self, *, force: bool = False) -> dict[str, str]:
        results: dict[str, str] = {}
        for job in self.jobs:
            now = time.monotonic()
            if not force and now < job.next_at:
                continue
            lag_s = now - job.next_at if job.next_at else 0.0
            job.next_at = now + job.interval_s
            started = time.monotonic()
            try:
                with telemetry.worker_job(job.name, lag_s=lag_s):
                    job.run()
                job.last_error = None
                results[job.name] = "ok"
                log.debug("job %s took %.2f s", job.name, time.monotonic() - started)
            except Exception as exc:  # one failing job must not stop the others
                job.last_error = f"{exc.__class__.__name__}: {exc}"
                results[job.name] = job.last_error
                log.warning("job %s failed: %s", job.name, job.last_error)
        return results

    def heartbeat(self, *, leader: bool) -> None:
        live.write_heartbeat(
            self.redis,
            {
                "leader": leader,
                "jobs": {j.name: (j.last_error or "ok") for j in self.jobs},
            },
        )

    def run_forever(self) -> None:
        if self.db_watch is not None:
            self.db_watch.start()  # its own thread: a hung PostgreSQL must not hold it up
        while not self.stop_event.is_set():
            leader = self.is_leader()
            if leader:
                self.run_due()
            self.heartbeat(leader=leader)
            self.stop_event.wait(1.0)
        if self.db_watch is not None:
            self.db_watch.stop()
        self.release_leadership()


def run_worker(*, once: bool = False) -> int:
    settings = get_settings()
    engine = install_app_role(make_engine(settings.sqlalchemy_url))
    worker = Worker(engine)

    def _stop(signum: int, frame: FrameType | None) -> None:
        worker.stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if once:
        results = worker.run_due(force=True)
        worker.heartbeat(leader=True)
        for name, outcome in results.items():
            print(f"{name}: {outcome}")
        return 0 if all(v == "ok" for v in results.values()) else 1
    log.info("worker started")
    worker.run_forever()
    log.info("worker stopped")
    return 0
