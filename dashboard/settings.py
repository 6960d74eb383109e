"""One typed settings object for the app, the worker, migrations, scripts and tests (env prefix ORCA_)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every knob of the console. Read lazily through :func:`get_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="ORCA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["development", "production"] = "development"
    cookie_key: str | None = Field(
        default=None,
        description="secret that signs the login cookie; required (>= 32 random chars) in production",
    )
    secret_key: str | None = Field(
        default=None,
        description=(
            "key (>= 32 chars, the same in every console and worker) that encrypts "
            "contact-point secrets at rest; required in production; unset in development = "
            "a random key file made once in the state folder"
        ),
    )
    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset starts the embedded PostgreSQL 16"
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL; unset starts the embedded Redis"
    )
    trust_forwarded_for: bool = Field(
        default=False,
        description=(
            "behind a reverse proxy that sets X-Forwarded-For: take the client address for the "
            "per-client sign-in limit from its last entry; never set it without such a proxy"
        ),
    )
    state_dir: Path = Field(default=PROJECT_ROOT / ".state")
    embedded_redis_port: int = Field(default=6390, ge=1024, le=65535)

    port: int = Field(default=8501, ge=1, le=65535)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_statement_timeout_ms: int = Field(default=15_000, ge=100)
    db_connect_timeout_s: float = Field(default=3.0, gt=0)
    # Client-side bounds on every PostgreSQL connection: a server that stops answering (a
    # network partition, a frozen host) is noticed by the client, not after the kernel's
    # two-hour keepalive default or a 15-minute retransmission timeout.
    db_keepalives_idle_s: int = Field(default=5, ge=1)
    db_keepalives_interval_s: int = Field(default=2, ge=1)
    db_keepalives_count: int = Field(default=3, ge=1)
    db_tcp_user_timeout_ms: int = Field(default=5000, ge=0)
    db_idle_in_transaction_timeout_s: float = Field(
        default=60.0, ge=0, description="the server ends a session idle in a transaction this long"
    )
    console_db_deadline_s: float = Field(
        default=1.5,
        gt=0,
        description="a console page waits at most this long for PostgreSQL before its banner",
    )
    redis_timeout_s: float = Field(default=1.0, gt=0)
    redis_health_check_interval_s: int = Field(default=10, ge=0)

    cache_ttl_s: int = Field(default=30, ge=1, le=3600)
    cache_lock_timeout_s: float = Field(default=20.0, gt=0)

    freshness_slo_s: int = Field(default=60, ge=1)
    trust_window_h: int = Field(default=24, ge=1)

    core_url: str = "http://127.0.0.1:8600"
    core_port: int = Field(default=8600, ge=1, le=65535)
    otel_health_url: str = "http://127.0.0.1:13133/"
    probe_interval_s: float = Field(default=15.0, ge=1)
    probe_connect_timeout_s: float = Field(default=1.0, gt=0)
    probe_read_timeout_s: float = Field(default=2.0, gt=0)
    probe_deadline_s: float = Field(default=4.0, gt=0)
    sync_interval_s: float = Field(default=60.0, ge=1)
    rollup_interval_s: float = Field(default=60.0, ge=1)
    kpi_interval_s: float = Field(default=60.0, ge=5)
    # How often the worker renews the dashboards' default-range cache entries (refresh-ahead).
    refresh_ahead_interval_s: float = Field(default=2.0, ge=0.5)

    # --- Reports (issue 13): executive summary, SLA review, capacity review ---------------
    # Uptime each component must reach over a quarter, in percent (SLA review).
    sla_uptime_target_pct: float = Field(default=99.9, gt=0, le=100)
    # The worker files last month's reports when they are missing (checked this often).
    reports_check_interval_s: float = Field(default=3600.0, ge=5)
    # How often the worker records the day's capacity sample (one row per day, replaced).
    capacity_sample_interval_s: float = Field(default=3600.0, ge=5)
    # --- Alerts (issue 10): rule evaluation in the worker, the Alerts page -----------------
    # How often the leader evaluates every rule of data/alert_rules.yaml.
    alert_interval_s: float = Field(default=15.0, ge=1)
    # Another rules file (default: data/alert_rules.yaml of this checkout or image).
    alert_rules_path: str | None = None

    demo_agents: int = Field(default=3000, ge=10)
    demo_days: int = Field(default=30, ge=1, le=90)
    demo_seed: int = 42

    # --- Runbooks (issue 11): which executor acts, and the names it uses ---------------------
    runbook_executor: Literal["process", "compose", "kubernetes", "systemd"] = Field(
        default="process", description="how runbook actions reach services"
    )
    runbook_service_names: dict[str, str] = Field(
        default_factory=dict,
        description='logical service -> compose service / deployment / unit, JSON: {"orca-core": "core"}',
    )
    runbook_compose_project: str = "orca"
    runbook_compose_file: Path | None = None
    runbook_k8s_namespace: str = "orca-system"
    runbook_k8s_replicas: int = Field(default=1, ge=1, le=100)
    runbook_docker_bin: str = "docker"
    runbook_kubectl_bin: str = "kubectl"
    runbook_systemctl_bin: str = "systemctl"
    runbook_journalctl_bin: str = "journalctl"
    runbook_lock_ttl_s: int = Field(default=900, ge=10, description="a run's target lock expires")
    runbook_stale_after_s: int = Field(
        default=60,
        ge=10,
        description=(
            "a running run whose executor sent no heartbeat for this long is failed as "
            "'executor lost' and its target lock released (heartbeat every sixth of it)"
        ),
    )
    otlp_endpoint: str = Field(
        default="http://127.0.0.1:4318",
        description=(
            "ORCA Core's OTLP/HTTP endpoint (the stand-in exports there; the Telemetry Not "
            "Flowing runbook checks it); the console's own is OTEL_EXPORTER_OTLP_ENDPOINT"
        ),
    )

    # -- Notifications (issue 10, branch notify): outbox delivery, routing, contact points --
    notify_interval_s: float = Field(default=10.0, ge=1, description="delivery cycle interval")
    notify_max_attempts: int = Field(default=6, ge=1, le=50)
    notify_backoff_base_s: float = Field(default=15.0, gt=0)
    notify_backoff_cap_s: float = Field(default=900.0, gt=0)
    notify_connect_timeout_s: float = Field(default=2.0, gt=0)
    notify_read_timeout_s: float = Field(default=5.0, gt=0)
    notify_send_deadline_s: float = Field(
        default=8.0, gt=0, description="one delivery attempt (HTTP or SMTP) ends after this"
    )
    notify_cycle_deadline_s: float = Field(
        default=30.0, gt=0, description="a delivery cycle starts no new attempt after this"
    )
    notify_business_tz: str = Field(default="UTC", description="time zone of business hours")
    notify_business_start: str = Field(default="09:00", description="HH:MM, local")
    notify_business_end: str = Field(default="17:00", description="HH:MM, local")
    notify_business_days: str = Field(default="mon-fri", description="e.g. mon-fri or 1-5")
    notify_contact_points: str = Field(
        default="",
        description=(
            "contact points from settings, a JSON list of {name, kind, audiences, config, "
            "secret}; shown read-only in the console"
        ),
    )

    log_level: str = "INFO"
    fixed_now: datetime | None = Field(
        default=None, description="pin the console's clock (tests, screenshots of seeded data)"
    )

    # -- Telemetry and deployment (issue 12) ---------------------------------------------------
    # OTLP export itself is switched on by the standard OTEL_EXPORTER_OTLP_ENDPOINT variable.
    log_format: Literal["text", "json"] = Field(
        default="text", description="log lines as plain text or one JSON object per line"
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description=(
            "the worker serves Prometheus /metrics on this port; unset = off (the console "
            "serves /metrics on its own port)"
        ),
    )
    instance: str | None = Field(
        default=None,
        description="service.instance.id of this process's telemetry; unset = host name and pid",
    )

    @field_validator("metrics_port", "instance", mode="before")
    @classmethod
    def _blank_telemetry_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    # -- Backups, restore, doctor and checklists (issue 11, ops) ------------------------------
    backup_dir: Path | None = Field(
        default=None, description="folder for backups; unset = <state_dir>/backups"
    )
    backup_schedule_enabled: bool = Field(
        default=True, description="the worker (leader) takes a backup every backup_interval_h"
    )
    backup_interval_h: float = Field(default=24.0, gt=0)
    backup_max_age_h: float = Field(
        default=26.0, gt=0, description="a last good backup older than this is an alert (P2)"
    )
    backup_restore_keep_h: float = Field(
        default=24.0,
        ge=0,
        description=(
            "restored scratch databases (orca_restore_…) are dropped by the worker this long "
            "after their last restore finished (DR drills drop theirs at once)"
        ),
    )
    backup_retain_daily: int = Field(default=7, ge=0)
    backup_retain_weekly: int = Field(default=4, ge=0)
    backup_retain_monthly: int = Field(default=12, ge=0)
    backup_s3_bucket: str | None = Field(
        default=None, description="S3-compatible bucket for backups; unset = the folder"
    )
    backup_s3_prefix: str = "orca-backups/"
    backup_s3_endpoint_url: str | None = None
    backup_s3_region: str = "us-east-1"
    backup_s3_access_key_id: str | None = None
    backup_s3_secret_access_key: str | None = None
    backup_redis_snapshot: bool = Field(
        default=True, description="save a Redis RDB snapshot beside each PostgreSQL backup"
    )
    pg_bin_dir: Path | None = Field(
        default=None, description="folder of pg_dump/pg_restore of the server's major version"
    )
    tls_check_urls: str = Field(
        default="",
        description="comma-separated https:// endpoints whose certificates doctor checks",
    )
    tls_warn_days: int = Field(default=21, ge=1)
    tls_ca_file: Path | None = Field(
        default=None, description="extra CA bundle to trust for tls_check_urls (private CAs)"
    )
    doctor_min_free_disk_pct: float = Field(default=10.0, ge=0, le=100)

    @field_validator(
        "database_url",
        "redis_url",
        "fixed_now",
        "alert_rules_path",
        "backup_dir",
        "backup_s3_bucket",
        "backup_s3_endpoint_url",
        "pg_bin_dir",
        "tls_ca_file",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with the psycopg 3 driver named, as SQLAlchemy wants it."""
        if self.database_url is None:
            raise RuntimeError(
                "ORCA_DATABASE_URL is not set; run `orca-dashboard up` to start the embedded "
                "PostgreSQL, or set it to your server"
            )
        return to_sqlalchemy_url(self.database_url)


def to_sqlalchemy_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+psycopg:// and name the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError("database URL must start with postgresql:// (got another scheme)")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment and .env on first use."""
    return Settings()


def reset_settings() -> None:
    """Forget the cached settings (tests and `up` change the environment)."""
    get_settings.cache_clear()
