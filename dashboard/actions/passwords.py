"""Password policy and bcrypt: what a password must be, how it is hashed and checked."""

from __future__ import annotations

import secrets

import bcrypt

MIN_PASSWORD = 12
MAX_PASSWORD_BYTES = 72  # bcrypt reads at most 72 bytes; longer passwords are refused, not cut
# bcrypt work factor; tests lower it (never below 4) to keep the suite fast.
BCRYPT_ROUNDS = 12


def hash_password(password: str) -> str:
    """A bcrypt hash ($2b$) of ``password`` (validate it first with :func:`password_problem`)."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(BCRYPT_ROUNDS)).decode("ascii")


_dummy_hashes: dict[int, bytes] = {}


def _dummy_hash() -> bytes:
    """A hash to check against when there is no user, so unknown names cost the same time."""
    rounds = BCRYPT_ROUNDS
    if rounds not in _dummy_hashes:
        _dummy_hashes[rounds] = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds))
    return _dummy_hashes[rounds]


def verify_password(password: str, stored_hash: str | None) -> bool:
    """bcrypt check; always spends one bcrypt computation, even with no hash or a bad input."""
    raw = password.encode("utf-8", "surrogatepass") if isinstance(password, str) else b""
    candidate = stored_hash.encode("ascii", "replace") if stored_hash else _dummy_hash()
    usable = 0 < len(raw) <= MAX_PASSWORD_BYTES and stored_hash is not None
    try:
        matched = bcrypt.checkpw(raw[:MAX_PASSWORD_BYTES] or b"-", candidate)
    except ValueError:  # a malformed stored hash: spend the time anyway, then refuse
        bcrypt.checkpw(b"-", _dummy_hash())
        return False
    return matched and usable


def password_problem(password: object, *, username: str | None = None) -> str | None:
    """Why ``password`` is not acceptable, in plain words, or None when it is."""
    if not isinstance(password, str):
        return "The password must be text."
    if len(password) < MIN_PASSWORD:
        return f"The password needs at least {MIN_PASSWORD} characters."
    if len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
        return f"The password may have at most {MAX_PASSWORD_BYTES} bytes."
    if len(set(password)) < 5:
        return "The password repeats too few different characters."
    if username and username.lower() in password.lower():
        return "The password must not contain the user name."
    return None


def generate_password(*, username: str | None = None) -> str:
    """A random password that passes :func:`password_problem` (~120 bits)."""
    while True:
        candidate = secrets.token_urlsafe(15)
        if password_problem(candidate, username=username) is None:
            return candidate
