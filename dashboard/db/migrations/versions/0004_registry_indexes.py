"""Indexes for the registry's cold queries at a million agents.

- the quarantined list (newest first) reads its 100 rows from a partial index in that order
  instead of sorting every quarantined agent (about 200 ms at 50,000 of them);
- discovery per bucket and source is an index-only scan (discovered_at, source) instead of a
  heap visit per agent discovered in the range (about 350 ms over 30 days).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_agents_quarantined_newest ON agents "
        "(quarantined_at DESC NULLS LAST, id DESC) WHERE status = 'quarantined'"
    )
    op.execute(
        "CREATE INDEX ix_agents_discovered_source ON agents (discovered_at) "
        "INCLUDE (discovery_source)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_agents_discovered_source")
    op.execute("DROP INDEX IF EXISTS ix_agents_quarantined_newest")
