"""The key that signs the login cookie: required and strong in production, made once in development."""

from __future__ import annotations

import os
import secrets
import stat
import time
from pathlib import Path

from dashboard.settings import Settings

MIN_COOKIE_KEY = 32


class CookieKeyError(RuntimeError):
    """The cookie key is missing or too weak for this environment."""


def _key_problem(key: str) -> str | None:
    if len(key) < MIN_COOKIE_KEY:
        return f"it has {len(key)} characters; at least {MIN_COOKIE_KEY} are needed"
    if len(set(key)) < 10:
        return "it repeats too few different characters to be random"
    return None


def check_cookie_key(settings: Settings) -> str:
    """The key that signs the login cookie; refuse to go on without a strong one.

    Production: ORCA_COOKIE_KEY must be set to at least 32 random characters (no default
    exists). Development: when unset, a random key is created once in the state folder.
    """
    key = (settings.cookie_key or "").strip()
    hint = (
        "set ORCA_COOKIE_KEY to a random secret, e.g. the output of "
        '`python -c "import secrets; print(secrets.token_urlsafe(48))"`'
    )
    if key:
        problem = _key_problem(key)
        if problem is not None:
            raise CookieKeyError(f"ORCA_COOKIE_KEY is too weak ({problem}): {hint}")
        return key
    if settings.env == "production":
        raise CookieKeyError(f"ORCA_COOKIE_KEY is not set and production has no default: {hint}")
    return _development_key(settings.state_dir / "cookie_key")


def _development_key(path: Path) -> str:
    """Read the development key, or create it (owner-only file, O_EXCL) on first use."""
    for _ in range(20):
        try:
            existing: str | None = path.read_text().strip()
        except FileNotFoundError:
            existing = None
        if existing and _key_problem(existing) is None:
            return existing
        if existing == "":  # another process is writing it right now
            time.sleep(0.05)
            continue
        if existing is not None:  # a weak hand-written key: replace it
            path.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        except FileExistsError:
            continue
        key = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
        return key
    raise CookieKeyError(f"could not create the development cookie key in {path}")
