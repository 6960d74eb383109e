"""Agent totals kept by triggers: counts per status, type, vendor, source and tier, and the
active agents' trust sum, so the tiles and the registry's counts read a few rows, not 1M;
the same per integration source for the data sources (count, with a success, the sum of
their last successes), so Sync Freshness and the per-source lag table need no scan either;
and an index for the Drift Rate tile's detections resolved after "now".

The registry counts and the Trust Score ("average trust of the active agents now") were a
scan of every agent per cold view (100-150 ms each at a million agents). Statement-level
triggers on ``agents`` append each statement's net change, grouped, to
``agent_total_deltas``: insert-only, so concurrent writers never wait on a counter row. A
reader sums the rows of one dimension; the worker folds them into one row per value now and
then (``dashboard.data.totals.compact_totals``). TRUNCATE of ``agents`` empties them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# One SELECT shape for every operation: the statement's rows with +1 (new) or -1 (old).
_DELTAS = """
    INSERT INTO agent_total_deltas (dimension, value, agents, trust_sum, trust_n)
    SELECT d.dimension, d.value, sum(d.sign), sum(d.trust), sum(d.scored)
    FROM ({rows}) r
    CROSS JOIN LATERAL (VALUES
        ('status', r.status::text, r.sign,
         CASE WHEN r.trust_score IS NULL THEN 0 ELSE r.sign * r.trust_score::numeric END,
         CASE WHEN r.trust_score IS NULL THEN 0 ELSE r.sign END),
        ('type', r.type::text, r.sign, 0::numeric, 0),
        ('vendor', r.vendor::text, r.sign, 0::numeric, 0),
        ('discovery_source', r.discovery_source::text, r.sign, 0::numeric, 0),
        ('compliance_tier', r.compliance_tier::text, r.sign, 0::numeric, 0)
    ) AS d(dimension, value, sign, trust, scored)
    GROUP BY d.dimension, d.value
    HAVING sum(d.sign) <> 0 OR sum(d.trust) <> 0 OR sum(d.scored) <> 0;
"""
_COLS = "status, type, vendor, discovery_source, compliance_tier, trust_score"
_NEW = f"SELECT 1 AS sign, {_COLS} FROM new_rows"  # noqa: S608 - constants
_OLD = f"SELECT -1 AS sign, {_COLS} FROM old_rows"  # noqa: S608 - constants


def upgrade() -> None:
    op.execute("""
    CREATE TABLE agent_total_deltas (
        id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_agent_total_deltas PRIMARY KEY,
        dimension text NOT NULL,
        value text,
        agents bigint NOT NULL,
        trust_sum numeric NOT NULL,
        trust_n bigint NOT NULL
    )""")
    op.execute("CREATE INDEX ix_agent_total_deltas_dimension ON agent_total_deltas (dimension)")
    _delta_triggers("agents", "agent_totals", "agent_total_deltas", _DELTAS, _NEW, _OLD)
    _data_source_totals()
    op.execute("""
    DO $$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'orca_app') THEN
            GRANT SELECT, INSERT, DELETE ON agent_total_deltas, data_source_total_deltas
                TO orca_app;
        END IF;
    END $$""")
    # The Drift Rate tile's "open at now" reads detections resolved after now by this index
    # (and the unresolved ones by ix_drift_detections_open).
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_drift_detections_resolved ON drift_detections "
        "(resolved_at) WHERE resolved_at IS NOT NULL"
    )
    from dashboard.data.totals import rebuild_totals

    rebuild_totals(op.get_bind())


# Per integration source: data sources, those with a success, and the sum of their last
# successes as epoch seconds (mean lag = now - sum / succeeded), for the Sync Freshness tile
# and the per-source table.
_SOURCE_DELTAS = """
    INSERT INTO data_source_total_deltas (source, sources, succeeded, success_epoch_sum)
    SELECT r.source, sum(r.sign),
           sum(CASE WHEN r.last_success_at IS NULL THEN 0 ELSE r.sign END),
           sum(CASE WHEN r.last_success_at IS NULL THEN 0
                    ELSE r.sign * extract(epoch FROM r.last_success_at) END)
    FROM ({rows}) r
    GROUP BY r.source
    HAVING sum(r.sign) <> 0
        OR sum(CASE WHEN r.last_success_at IS NULL THEN 0 ELSE r.sign END) <> 0
        OR sum(CASE WHEN r.last_success_at IS NULL THEN 0
                    ELSE r.sign * extract(epoch FROM r.last_success_at) END) <> 0;
"""
_SOURCE_NEW = "SELECT 1 AS sign, source, last_success_at FROM new_rows"
_SOURCE_OLD = "SELECT -1 AS sign, source, last_success_at FROM old_rows"


def _data_source_totals() -> None:
    op.execute("""
    CREATE TABLE data_source_total_deltas (
        id bigint GENERATED ALWAYS AS IDENTITY
            CONSTRAINT pk_data_source_total_deltas PRIMARY KEY,
        source text NOT NULL,
        sources bigint NOT NULL,
        succeeded bigint NOT NULL,
        success_epoch_sum numeric NOT NULL
    )""")
    _delta_triggers(
        "data_sources",
        "data_source_totals",
        "data_source_total_deltas",
        _SOURCE_DELTAS,
        _SOURCE_NEW,
        _SOURCE_OLD,
    )


def _delta_triggers(table: str, name: str, deltas: str, sql: str, new: str, old: str) -> None:
    """Statement-level triggers on ``table`` appending each statement's net change (``sql``
    over its new rows, old rows or both) to ``deltas``; TRUNCATE empties ``deltas``."""
    op.execute(f"""
    CREATE FUNCTION orca_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {sql.format(rows=new)}
        ELSIF TG_OP = 'DELETE' THEN
            {sql.format(rows=old)}
        ELSE
            {sql.format(rows=f"{new} UNION ALL {old}")}
        END IF;
        RETURN NULL;
    END $$""")
    op.execute(f"""
    CREATE FUNCTION orca_{name}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM {deltas};
        RETURN NULL;
    END $$""")  # noqa: S608 - names are the module's constants
    for event, referencing in (
        ("insert", "REFERENCING NEW TABLE AS new_rows"),
        ("update", "REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows"),
        ("delete", "REFERENCING OLD TABLE AS old_rows"),
    ):
        op.execute(f"""CREATE TRIGGER {name}_{event} AFTER {event.upper()} ON {table}
                      {referencing}
                      FOR EACH STATEMENT EXECUTE FUNCTION orca_{name}()""")
    op.execute(f"""CREATE TRIGGER {name}_truncate AFTER TRUNCATE ON {table}
                  FOR EACH STATEMENT EXECUTE FUNCTION orca_{name}_truncate()""")


def downgrade() -> None:
    for trigger in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS agent_totals_{trigger} ON agents")
        op.execute(f"DROP TRIGGER IF EXISTS data_source_totals_{trigger} ON data_sources")
    op.execute("DROP FUNCTION IF EXISTS orca_data_source_totals()")
    op.execute("DROP FUNCTION IF EXISTS orca_data_source_totals_truncate()")
    op.execute("DROP TABLE IF EXISTS data_source_total_deltas")
    op.execute("DROP FUNCTION IF EXISTS orca_agent_totals()")
    op.execute("DROP FUNCTION IF EXISTS orca_agent_totals_truncate()")
    op.execute("DROP TABLE IF EXISTS agent_total_deltas")
    op.execute("DROP INDEX IF EXISTS ix_drift_detections_resolved")
