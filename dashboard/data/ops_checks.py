"""Doctor's further checks (issue 11): settings not left at defaults, pgvector, disk space,
backup freshness and the certificate expiry of configured HTTPS endpoints. One Check each,
with a fix hint; the doctor command and the Doctor page run the same list."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from dashboard.data import backups
from dashboard.data.checks import Check
from dashboard.db.engine import make_engine
from dashboard.integrations.tls import check_certificate, configured_urls
from dashboard.settings import Settings, to_sqlalchemy_url

DEFAULT_CORE_URL = "http://127.0.0.1:8600"


def settings_complete_check(settings: Settings) -> Check:
    """Production must not run on development defaults (cookie key, local servers)."""
    problems: list[str] = []
    if settings.env == "production":
        if not settings.cookie_key or len(settings.cookie_key) < 32:
            problems.append("ORCA_COOKIE_KEY unset or shorter than 32 characters")
        if settings.database_url is None:
            problems.append("ORCA_DATABASE_URL unset (embedded PostgreSQL)")
        if settings.redis_url is None:
            problems.append("ORCA_REDIS_URL unset (embedded Redis)")
        if settings.core_url == DEFAULT_CORE_URL:
            problems.append("ORCA_CORE_URL is the development stand-in's")
        if settings.fixed_now is not None:
            problems.append("ORCA_FIXED_NOW pins the clock")
        if problems:
            return Check("defaults", "fail", "; ".join(problems) + " — fix: set them in .env")
        return Check("defaults", "ok", "production settings complete, none left at a default")
    return Check(
        "defaults",
        "ok",
        "development settings (defaults allowed); set ORCA_ENV=production to check them strictly",
    )


def pgvector_check(database_url: str | None) -> list[Check]:
    if database_url is None:
        return []
    try:
        engine = make_engine(to_sqlalchemy_url(database_url), connect_timeout_s=3)
        with engine.connect() as conn:
            version = conn.execute(
                text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            ).scalar()
            available = conn.execute(
                text("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
            ).scalar()
    except SQLAlchemyError:
        return []  # the postgresql check already says why
    if version:
        return [Check("pgvector", "ok", f"pgvector {version} installed")]
    if available:
        return [
            Check(
                "pgvector",
                "ok",
                f"pgvector {available} available on the server (CREATE EXTENSION vector in a "
                "migration when a feature needs it)",
            )
        ]
    # A warning, not a failure: no feature uses vectors yet (DESIGN.md plans for them).
    return [
        Check(
            "pgvector",
            "warn",
            "pgvector missing on the server — fix: install postgresql-<major>-pgvector",
        )
    ]


def disk_check(settings: Settings) -> Check:
    where: Path = backups.backup_folder(settings)
    probe = where
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free_pct = usage.free / usage.total * 100
    detail = f"{usage.free / 1e9:.1f} GB free of {usage.total / 1e9:.0f} GB ({free_pct:.0f} %) at {probe}"
    if free_pct < settings.doctor_min_free_disk_pct:
        return Check(
            "disk",
            "fail",
            f"{detail} — fix: free space, prune old backups or move ORCA_BACKUP_DIR",
        )
    return Check("disk", "ok", detail)


def backup_check(settings: Settings, database_url: str | None) -> list[Check]:
    if database_url is None:
        return []
    try:
        engine = make_engine(to_sqlalchemy_url(database_url), connect_timeout_s=3)
        with engine.connect() as conn:
            if not conn.execute(text("SELECT to_regclass('public.backups')")).scalar():
                return [Check("backup", "warn", "no backups table — fix: `orca-dashboard migrate`")]
            age = backups.get_last_backup_age_s(conn)
    except SQLAlchemyError:
        return []
    limit_h = settings.backup_max_age_h
    if age is None:
        return [
            Check(
                "backup",
                "warn",
                "no backup yet — fix: press Backup now on the Backups page, or run the worker",
            )
        ]
    hours = age / 3600
    if hours > limit_h:
        return [
            Check(
                "backup",
                "fail",
                f"last good backup {hours:.1f} h ago (limit {limit_h:.0f} h) — fix: check the "
                "worker log for the backup job, then Backup now",
            )
        ]
    return [Check("backup", "ok", f"last good backup {hours:.1f} h ago")]


def tls_checks(settings: Settings) -> list[Check]:
    urls = configured_urls(settings.tls_check_urls)
    if not urls:
        return [Check("tls", "ok", "no HTTPS endpoints configured (ORCA_TLS_CHECK_URLS)")]
    out: list[Check] = []
    for url in urls:
        status = check_certificate(
            url, warn_days=settings.tls_warn_days, ca_file=settings.tls_ca_file
        )
        hint = ""
        if status.verdict == "warn":
            hint = " — fix: renew the certificate before it expires"
        elif status.verdict == "fail":
            hint = " — fix: renew or replace the certificate, or check the endpoint"
        verdict = "warn" if status.verdict == "warn" else status.verdict
        out.append(Check("tls", verdict, f"{url}: {status.detail}{hint}"))  # type: ignore[arg-type]
    return out


def ops_checks(settings: Settings, *, database_url: str | None) -> list[Check]:
    return [
        settings_complete_check(settings),
        *pgvector_check(database_url),
        disk_check(settings),
        *backup_check(settings, database_url),
        *tls_checks(settings),
    ]
