"""Run the console's queries as the least-privileged role ``orca_app`` (SET ROLE on connect).

Migration 0002 creates ``orca_app``: it reads and writes the application tables but may only
SELECT and INSERT the audit log. The console logs in as its own user and switches to the role on
every new pooled connection, when the role exists, the login user may use it and this database
has granted it its privileges; otherwise the connection keeps the login user's rights (and the
audit-log trigger still refuses rewrites). Migrations run on their own engine without this
listener, as the owner of the schema.

This guards against the application's own mistakes (a stray UPDATE of the audit log), not
against arbitrary SQL: a session could RESET ROLE. For a hard boundary, let the console log in
as a user that is only a member of ``orca_app``.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, event

APP_ROLE = "orca_app"

log = logging.getLogger(__name__)

# Switch only when the role exists, the login user may use it, and THIS database has granted
# it its privileges (migration 0002 ran here): the role is cluster-wide, the grants are not.
_CHECK = """
SELECT pg_has_role(current_user, r.oid, 'MEMBER')
       AND CASE WHEN to_regclass('public.audit_log') IS NULL THEN false
                ELSE has_table_privilege(r.oid, 'public.audit_log', 'INSERT') END
FROM pg_roles r WHERE r.rolname = 'orca_app'
"""


def _set_app_role(dbapi_connection: Any, connection_record: Any) -> None:
    """On each new DBAPI connection: SET ROLE orca_app when possible (committed, so it sticks)."""
    previous = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # a SET inside a rolled-back transaction would be undone
    try:
        with dbapi_connection.cursor() as cur:
            cur.execute(_CHECK)
            row = cur.fetchone()
            if row is not None and row[0]:
                cur.execute("SET ROLE orca_app")
                connection_record.info["orca_role"] = APP_ROLE
            else:
                connection_record.info["orca_role"] = None
                log.debug("role %s missing or not granted here; keeping the login user", APP_ROLE)
    finally:
        dbapi_connection.autocommit = previous


def install_app_role(engine: Engine) -> Engine:
    """Make every new connection of ``engine`` switch to ``orca_app``. Safe to call twice."""
    if not event.contains(engine, "connect", _set_app_role):
        event.listen(engine, "connect", _set_app_role)
    return engine
