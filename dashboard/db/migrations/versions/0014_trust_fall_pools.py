"""Stored trust-fall pools: the steepest falls of the default ranges, kept by the worker.

"Whose trust fell most" over 7 or 30 days at a million agents takes seconds even from the
per-agent rollups (0003): the per-bucket bound of the threshold algorithm is loose over 30-50
buckets. The dashboards ask it on the hour, for the same few ranges (24 h, 7 d, 30 d ...
ending at the current hour), so the worker answers each once an hour and keeps the answer
here: the ``pool_size`` steepest falls among agents of any status, ordered. A viewer's cold
question for such a range reads one row; which of the agents are active now is looked up at
read time, so a quarantine needs no recomputation. Other ranges still compute (once for all
viewers, the shared cache's single flight).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE trust_fall_pools (
        start_at timestamptz NOT NULL,
        end_at timestamptz NOT NULL,
        pool_size integer NOT NULL CONSTRAINT ck_trust_fall_pools_size CHECK (pool_size > 0),
        computed_at timestamptz NOT NULL,
        falls jsonb NOT NULL,
        CONSTRAINT pk_trust_fall_pools PRIMARY KEY (start_at, end_at),
        CONSTRAINT ck_trust_fall_pools_range CHECK (end_at > start_at)
    )""")
    op.execute("""
    DO $$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'orca_app') THEN
            GRANT SELECT, INSERT, UPDATE, DELETE ON trust_fall_pools TO orca_app;
        END IF;
    END $$""")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS trust_fall_pools")
