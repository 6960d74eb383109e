"""Backups, restores (DR drills included) and checklist sign-offs.

A backup row is written when a backup starts (status ``running``) and completed when it ends,
so a failed or interrupted backup is visible too. ``row_counts`` are the main tables' counts in
the same snapshot pg_dump read, so a restore can be verified against them exactly.

Revision ID: 0009
Revises: 0008 (chained after the merged runbooks branch)
Create Date: 2026-12-03
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE backups (
            id bigserial PRIMARY KEY,
            started_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            status text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'ok', 'failed', 'pruned')),
            trigger text NOT NULL CHECK (trigger IN ('schedule', 'manual', 'bench')),
            requested_by text NOT NULL,
            store text NOT NULL CHECK (store IN ('folder', 's3')),
            location text NOT NULL DEFAULT '',
            dump_key text,
            size_bytes bigint,
            duration_s double precision,
            sha256 text,
            server_version text,
            row_counts jsonb NOT NULL DEFAULT '{}'::jsonb,
            redis_key text,
            redis_size_bytes bigint,
            redis_sha256 text,
            redis_note text,
            error text,
            pruned_at timestamptz
        )
        """
    )
    op.execute("CREATE INDEX ix_backups_started ON backups (started_at DESC)")
    op.execute("CREATE INDEX ix_backups_ok ON backups (finished_at DESC) WHERE status = 'ok'")
    op.execute(
        """
        CREATE TABLE restores (
            id bigserial PRIMARY KEY,
            backup_id bigint NOT NULL REFERENCES backups (id),
            started_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            status text NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'ok', 'failed', 'refused')),
            purpose text NOT NULL CHECK (purpose IN ('restore', 'drill', 'bench')),
            target_database text NOT NULL,
            requested_by text NOT NULL,
            duration_s double precision,
            verified boolean,
            mismatches jsonb NOT NULL DEFAULT '{}'::jsonb,
            detail text
        )
        """
    )
    op.execute("CREATE INDEX ix_restores_started ON restores (started_at DESC)")
    op.execute(
        """
        CREATE TABLE checklist_signoffs (
            id bigserial PRIMARY KEY,
            checklist text NOT NULL,
            item text NOT NULL,
            period text NOT NULL,
            signed_by text NOT NULL,
            signed_at timestamptz NOT NULL DEFAULT now(),
            note text NOT NULL DEFAULT '',
            UNIQUE (checklist, item, period)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS checklist_signoffs")
    op.execute("DROP TABLE IF EXISTS restores")
    op.execute("DROP TABLE IF EXISTS backups")
