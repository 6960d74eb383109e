"""`ORCA_BENCH_ONLY_BACKUP=1 make bench`: back up the 1M-agent database and restore it verified.

Reads (never writes) the source database ORCA_BENCH_BACKUP_SOURCE_URL (default: the shared
bench database orca_bench_shared on the machine's PostgreSQL) with the pg_dump of its own major
version; records go to a scratch database, the restore to another; both are dropped at the end.
Prints the dump's time and size, the restore's time and whether every row count matched.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from dashboard.data import backups
from dashboard.db.engine import make_engine
from dashboard.db.migrate import upgrade
from dashboard.integrations.pgtools import database_name
from dashboard.settings import Settings, to_sqlalchemy_url

DEFAULT_SOURCE = "postgresql://postgres@127.0.0.1:5432/orca_bench_shared"


def run_backup_bench() -> int:
    source = os.environ.get("ORCA_BENCH_BACKUP_SOURCE_URL", DEFAULT_SOURCE)
    work = Path(tempfile.mkdtemp(prefix="orca-backup-bench-"))
    settings = Settings(state_dir=work, backup_dir=work / "backups", backup_redis_snapshot=False)
    records_url = backups.create_scratch_database(source, "orca_benchrestore_")
    target_url = backups.create_scratch_database(source, "orca_benchrestore_")
    try:
        upgrade(records_url)
        records = make_engine(to_sqlalchemy_url(records_url))
        probe = backups.admin_engine(source)
        with probe.connect() as conn:
            agents = conn.execute(text("SELECT count(*) FROM agents")).scalar_one()
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            _major, version = backups.server_major(conn)
        probe.dispose()
        print(
            f"source {database_name(source)}: {agents:,} agents, {size / 1e9:.2f} GB on "
            f"PostgreSQL {version}",
            flush=True,
        )
        started = time.perf_counter()
        done = backups.run_backup(
            records,
            settings,
            database_url=source,
            redis_url=None,
            trigger="bench",
            requested_by="bench",
        )
        wall = time.perf_counter() - started
        if not done.ok:
            print(f"backup failed: {done.message}")
            return 1
        print(
            f"backup (pg_dump -Fc, sha256, row counts): {wall:.1f} s, "
            f"{(done.size_bytes or 0) / 1e6:.0f} MB ({(done.size_bytes or 0) / size:.0%} of the "
            "database)",
            flush=True,
        )
        started = time.perf_counter()
        result = backups.restore_backup(
            records,
            settings,
            backup_id=done.backup_id or 0,
            target_url=target_url,
            purpose="bench",
            requested_by="bench",
        )
        wall = time.perf_counter() - started
        print(f"restore + verify (pg_restore, row counts): {wall:.1f} s: {result.message}")
        return 0 if result.ok else 1
    finally:
        for url in (target_url, records_url):
            backups.drop_scratch_database(source, database_name(url))
