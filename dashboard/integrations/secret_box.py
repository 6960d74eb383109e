"""Contact-point secrets encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from ORCA_SECRET_KEY (any string of at least 32 characters; the Fernet key is
derived from it), or, when that is unset in development, from a random key file created once
(owner-only) under the state folder, as the development cookie key is. Production requires
ORCA_SECRET_KEY: its console and worker containers do not share a state folder. A stored value starts with
``enc:v1:``; a value without it is an old plaintext row, read as is and re-encrypted by the
caller (``dashboard.data.notify_store.encrypt_plaintext_secrets``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import stat
from functools import lru_cache
from pathlib import Path
from typing import Final

from cryptography.fernet import Fernet, InvalidToken

from dashboard.settings import Settings, get_settings

log = logging.getLogger(__name__)

PREFIX: Final = "enc:v1:"
MIN_KEY: Final = 32
KEY_FILE: Final = "secret_key"


class SecretKeyError(RuntimeError):
    """The key is too weak, or a stored secret was encrypted with another key."""


def _fernet_from(material: str) -> Fernet:
    digest = hashlib.sha256(b"orca-contact-point-secrets\x00" + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _key_file(path: Path) -> str:
    """Read the key file, or create it (O_EXCL, mode 0600) the first time."""
    for _ in range(3):
        try:
            existing = path.read_text().strip()
        except FileNotFoundError:
            existing = ""
        if len(existing) >= MIN_KEY:
            return existing
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        except FileExistsError:
            continue  # another process wrote it first, or it is being written: read again
        key = secrets.token_urlsafe(48)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
        return key
    raise SecretKeyError(f"could not read or create the secret key file {path}")


def _file_key(path: Path) -> str:
    try:
        return _key_file(path)
    except OSError as exc:  # a read-only or missing state folder
        raise SecretKeyError(
            f"could not read or create the secret key file {path} ({exc.strerror}): "
            "set ORCA_SECRET_KEY"
        ) from None


def key_material(settings: Settings) -> str:
    configured = (settings.secret_key or "").strip()
    if configured:
        if len(configured) < MIN_KEY:
            raise SecretKeyError(
                f"ORCA_SECRET_KEY has {len(configured)} characters; at least {MIN_KEY} are needed"
            )
        return configured
    if settings.env == "production":
        raise SecretKeyError(
            "ORCA_SECRET_KEY is not set and production has no default: set it to 32+ random "
            "characters (the same in every console and worker), e.g. `openssl rand -hex 32`"
        )
    return _file_key(settings.state_dir / KEY_FILE)


def key_problem(settings: Settings | None = None) -> str | None:
    """Why secrets cannot be sealed right now (None: they can)."""
    try:
        key_material(settings or get_settings())
    except SecretKeyError as exc:
        return str(exc)
    return None


@lru_cache(maxsize=4)
def _box(material: str) -> Fernet:
    return _fernet_from(material)


def box(settings: Settings | None = None) -> Fernet:
    return _box(key_material(settings or get_settings()))


def is_encrypted(stored: str) -> bool:
    return stored.startswith(PREFIX)


def encrypt(secret: str, settings: Settings | None = None) -> str:
    """The value to store for ``secret`` ("" stays "": no secret)."""
    if not secret:
        return ""
    return PREFIX + box(settings).encrypt(secret.encode()).decode("ascii")


def decrypt(stored: str, settings: Settings | None = None) -> str:
    """The secret behind a stored value; an old plaintext value comes back unchanged."""
    if not is_encrypted(stored):
        return stored
    try:
        return box(settings).decrypt(stored[len(PREFIX) :].encode("ascii")).decode()
    except InvalidToken:
        raise SecretKeyError(
            "a contact-point secret was encrypted with another key (ORCA_SECRET_KEY changed?); "
            "enter the secret again"
        ) from None
