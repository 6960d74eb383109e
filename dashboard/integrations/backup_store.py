"""Where backup files go: a folder (the default) or an S3-compatible bucket (boto3).

Both answer the same four calls; failures are :class:`StoreError` with a plain message (bucket
unreachable, access denied, disk full), never a stack trace for the page.
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class StoreError(RuntimeError):
    """The store refused or could not be reached. ``str()`` is the plain reason."""


def disk_full_message(path: Path) -> str:
    return (
        f"disk full: no space left on the device holding {path}; free space there or point "
        "ORCA_BACKUP_DIR at a larger disk"
    )


class BackupStore(Protocol):
    kind: str

    @property
    def location(self) -> str: ...

    def put(self, src: Path, key: str) -> None: ...
    def get(self, key: str, dest: Path) -> None: ...
    def delete(self, key: str) -> None: ...


@dataclass
class FolderStore:
    """Files under ``root``; ``put`` moves the finished file in with one atomic rename."""

    root: Path
    kind: str = "folder"

    @property
    def location(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        if "/" in key or key.startswith(".") or not key:
            raise StoreError(f"bad backup file name {key!r}")
        return self.root / key

    def put(self, src: Path, key: str) -> None:
        dest = self._path(key)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{key}.tmp")
            if src.parent.resolve() == self.root.resolve() or _same_device(src, self.root):
                os.replace(src, dest)
                return
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
            src.unlink(missing_ok=True)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise StoreError(disk_full_message(self.root)) from None
            raise StoreError(f"cannot write {dest}: {exc.strerror or exc}") from None

    def get(self, key: str, dest: Path) -> None:
        try:
            shutil.copyfile(self._path(key), dest)
        except FileNotFoundError:
            raise StoreError(f"backup file {key} is missing from {self.root}") from None
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise StoreError(disk_full_message(dest.parent)) from None
            raise StoreError(f"cannot read {key}: {exc.strerror or exc}") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def _same_device(src: Path, root: Path) -> bool:
    try:
        return src.stat().st_dev == root.stat().st_dev
    except OSError:
        return False


@dataclass
class S3Store:
    """Objects ``<prefix><key>`` in ``bucket`` of any S3-compatible endpoint."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    timeout_s: float = 10.0
    kind: str = "s3"

    @property
    def location(self) -> str:
        where = self.endpoint_url or "aws"
        return f"s3://{self.bucket}/{self.prefix} ({where})"

    def _client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(
                connect_timeout=self.timeout_s,
                read_timeout=self.timeout_s * 3,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        try:
            return fn(*args, **kwargs)
        except EndpointConnectionError:
            raise StoreError(
                f"bucket unreachable: cannot connect to {self.endpoint_url or 'S3'} "
                f"({what} s3://{self.bucket}); check ORCA_BACKUP_S3_ENDPOINT_URL and the network"
            ) from None
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise StoreError(f"S3 refused {what} on s3://{self.bucket}: {code}") from None
        except (BotoCoreError, OSError) as exc:
            raise StoreError(f"bucket unreachable ({what} s3://{self.bucket}): {exc}") from None

    def put(self, src: Path, key: str) -> None:
        client = self._client()
        self._call("upload to", client.upload_file, str(src), self.bucket, self.prefix + key)
        src.unlink(missing_ok=True)

    def get(self, key: str, dest: Path) -> None:
        client = self._client()
        self._call("download from", client.download_file, self.bucket, self.prefix + key, str(dest))

    def delete(self, key: str) -> None:
        client = self._client()
        self._call("delete in", client.delete_object, Bucket=self.bucket, Key=self.prefix + key)
