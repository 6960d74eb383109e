"""Per-agent trust rollups (hourly and daily) and their watermark, backfilled from the history.

Each row is one agent's last score in one bucket ``(bucket_end - grain, bucket_end]`` (buckets
end on the hour / UTC midnight, so "at or before start" stays on the previous bucket's side),
with the four components at that moment, the agent's score just before the bucket
(``prev_score``) and ``change = score - prev_score``. The partial index on the falls lets the
Trust KPIs page find the agents whose trust fell most by reading the steepest falls of a few
buckets instead of every agent's history (dashboard.data.trust_rollups).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("agent_trust_hourly", "agent_trust_daily")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"""
        CREATE TABLE {table} (
            agent_id bigint NOT NULL,
            bucket_end timestamptz NOT NULL,
            last_at timestamptz NOT NULL,
            score double precision NOT NULL,
            reliability double precision NOT NULL,
            policy_adherence double precision NOT NULL,
            sync_freshness double precision NOT NULL,
            risk_exposure double precision NOT NULL,
            prev_score double precision,
            change double precision,
            CONSTRAINT pk_{table} PRIMARY KEY (agent_id, bucket_end)
        )""")
        op.execute(
            f"CREATE INDEX ix_{table}_falls ON {table} (bucket_end, change, agent_id) "
            "WHERE change < 0"
        )
    op.execute("""
    CREATE TABLE rollup_watermarks (
        name text CONSTRAINT pk_rollup_watermarks PRIMARY KEY,
        through timestamptz NOT NULL
    )""")
    op.execute("""
    DO $$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'orca_app') THEN
            GRANT SELECT, INSERT, UPDATE, DELETE ON agent_trust_hourly, agent_trust_daily,
                rollup_watermarks TO orca_app;
        END IF;
    END $$""")
    # Existing deployments: fill the rollups from the history they already hold.
    from dashboard.data.trust_rollups import rebuild_trust_rollups

    rebuild_trust_rollups(op.get_bind())


def downgrade() -> None:
    for table in (*TABLES, "rollup_watermarks"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
