"""The Backups page lists the restored scratch databases left on the server and when the
worker drops them."""

from __future__ import annotations

import redis
from sqlalchemy import Engine

from dashboard.data.backups import create_scratch_database, drop_scratch_database
from dashboard.data.cache import bump_topics
from dashboard.domain.permissions import Role
from dashboard.integrations.pgtools import database_name
from tests.pages.conftest import new_app, sign_in


def test_the_backups_page_lists_restored_databases(
    app_env: None, seeded_engine: Engine, db_url: str, redis_url: str
) -> None:
    name = database_name(create_scratch_database(db_url, "orca_restore_"))
    # As a restore does: the page's cached lists (an earlier test's view) are dead.
    bump_topics(redis.Redis.from_url(redis_url), ("backups",))
    try:
        at = new_app(sign_in(seeded_engine, Role.MANAGER))
        at.switch_page("pages/backups.py").run()
        assert not at.exception, at.exception
        frames = [d.value for d in at.dataframe if "dropped after (UTC)" in d.value.columns]
        assert len(frames) == 1
        row = frames[0][frames[0]["database"] == name]
        assert len(row) == 1
        # No restore recorded: its generated name says when it was made; dropped 24 h later.
        assert str(row["dropped after (UTC)"].iloc[0])[:2] == "20"
    finally:
        drop_scratch_database(db_url, name)
