"""Runbook runs and their steps: who ran what on which target, each step's output and evidence.

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-03
"""

from alembic import op

revision = "0008"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE runbook_runs (
            id            bigserial PRIMARY KEY,
            runbook_id    text NOT NULL,
            title         text NOT NULL,
            target        text NOT NULL,
            params        jsonb NOT NULL DEFAULT '{}'::jsonb,
            executor      text NOT NULL,
            actor         text NOT NULL,
            state         text NOT NULL DEFAULT 'running'
                CHECK (state IN ('running', 'succeeded', 'failed')),
            plan          jsonb NOT NULL DEFAULT '[]'::jsonb,
            health_before jsonb,
            health_after  jsonb,
            failed_step   text,
            failure       text,
            incident_id   text,
            started_at    timestamptz NOT NULL DEFAULT now(),
            finished_at   timestamptz
        )
        """
    )
    op.execute("CREATE INDEX ix_runbook_runs_started ON runbook_runs (started_at DESC, id DESC)")
    op.execute(
        "CREATE INDEX ix_runbook_runs_target_running ON runbook_runs (target) "
        "WHERE state = 'running'"
    )
    op.execute(
        """
        CREATE TABLE runbook_steps (
            run_id      bigint NOT NULL REFERENCES runbook_runs (id) ON DELETE CASCADE,
            position    integer NOT NULL,
            step_id     text NOT NULL,
            kind        text NOT NULL,
            title       text NOT NULL,
            acts        boolean NOT NULL,
            planned     text NOT NULL,
            state       text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'running', 'ok', 'failed', 'skipped')),
            output      text NOT NULL DEFAULT '',
            evidence    jsonb,
            started_at  timestamptz,
            finished_at timestamptz,
            PRIMARY KEY (run_id, position)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS runbook_steps")
    op.execute("DROP TABLE IF EXISTS runbook_runs")
