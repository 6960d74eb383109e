"""Runbook runs survive their executor: a heartbeat, the executor's name and its lock token
(so a reaper can fail a run whose process died and release its target lock), and the
incident a run was started for as a real reference. Also the index the Incidents page's
keyset pager of closed incidents seeks on.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE runbook_runs
            ADD COLUMN heartbeat_at timestamptz,
            ADD COLUMN executor_host text,
            ADD COLUMN lock_token text,
            ALTER COLUMN incident_id TYPE bigint
                USING (CASE WHEN incident_id ~ '^[0-9]+$' THEN incident_id::bigint END)
        """
    )
    op.execute(
        "UPDATE runbook_runs r SET incident_id = NULL WHERE incident_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = r.incident_id)"
    )
    op.execute(
        "ALTER TABLE runbook_runs ADD CONSTRAINT fk_runbook_runs_incident "
        "FOREIGN KEY (incident_id) REFERENCES incidents (id) ON DELETE SET NULL"
    )
    op.execute(
        "CREATE INDEX ix_runbook_runs_incident ON runbook_runs (incident_id, id DESC) "
        "WHERE incident_id IS NOT NULL"
    )

    op.execute(
        "CREATE INDEX ix_incidents_closed ON incidents (closed_at DESC, id DESC) "
        "WHERE closed_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_incidents_closed")
    op.execute("DROP INDEX IF EXISTS ix_runbook_runs_incident")
    op.execute("ALTER TABLE runbook_runs DROP CONSTRAINT IF EXISTS fk_runbook_runs_incident")
    op.execute(
        """
        ALTER TABLE runbook_runs
            ALTER COLUMN incident_id TYPE text USING incident_id::text,
            DROP COLUMN lock_token,
            DROP COLUMN executor_host,
            DROP COLUMN heartbeat_at
        """
    )
