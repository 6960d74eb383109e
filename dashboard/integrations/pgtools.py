"""PostgreSQL client tools (pg_dump, pg_restore) of the server's own major version.

pg_dump refuses servers newer than itself and its archives may not restore with an older
pg_restore, so the console looks for the tools matching the server (ORCA_PG_BIN_DIR, the
binaries bundled with the embedded PostgreSQL 16 from pgserver, Debian's
/usr/lib/postgresql/<major>/bin, then PATH) and refuses plainly when none matches.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


class PgToolError(RuntimeError):
    """No usable tool (missing, or of another major version than the server). Plain message."""


def _bundled_bin() -> Path | None:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "pginstall" / "bin"


def candidate_dirs(major: int, configured: Path | None = None) -> list[Path]:
    dirs: list[Path] = []
    if configured is not None:
        dirs.append(configured)
    bundled = _bundled_bin()
    if bundled is not None:
        dirs.append(bundled)
    dirs.append(Path(f"/usr/lib/postgresql/{major}/bin"))
    return dirs


def tool_major(path: Path) -> int | None:
    """The major version ``path --version`` reports, or None when it does not run."""
    try:
        out = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
            [str(path), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = _VERSION.search(out)
    return int(found.group(1)) if found else None


def find_pg_tool(name: str, server_major: int, *, configured: Path | None = None) -> Path:
    """The ``name`` binary of PostgreSQL ``server_major``; PgToolError says what was found."""
    if name not in ("pg_dump", "pg_restore"):
        raise ValueError(f"unknown tool {name!r}")
    seen: list[str] = []
    paths = [d / name for d in candidate_dirs(server_major, configured)]
    on_path = shutil.which(name)
    if on_path:
        paths.append(Path(on_path))
    for path in paths:
        if not path.is_file():
            continue
        major = tool_major(path)
        if major == server_major:
            return path
        seen.append(f"{path} is {major or 'unknown'}")
    found = "; ".join(seen) if seen else "none found"
    raise PgToolError(
        f"no {name} for PostgreSQL {server_major} (the server's version): {found}. "
        f"Install the PostgreSQL {server_major} client tools or set ORCA_PG_BIN_DIR to them."
    )


def libpq_target(url: str, *, database: str | None = None) -> tuple[str, dict[str, str]]:
    """A password-free postgresql:// URL for the tools' --dbname, and the env carrying it.

    The password goes in PGPASSWORD, never on the command line (``ps`` shows arguments).
    """
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    env: dict[str, str] = {}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(password=None).render_as_string(hide_password=False), env


def database_name(url: str) -> str:
    name = make_url(url).database
    if not name:
        raise ValueError("the database URL names no database")
    return name
