"""Backups to an S3-compatible bucket: a real moto server process on a local port.

Backup, checksum, restore and retention through the bucket, and a bucket that is unreachable
(nothing listens on its port) answered plainly.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from dashboard.data import backups
from dashboard.data.backups import create_scratch_database, drop_scratch_database, run_backup
from dashboard.integrations.backup_store import S3Store
from dashboard.settings import Settings
from tests.actions.conftest import make_agent
from tests.conftest import MakeDatabase
from tests.harness import LoggedProcess, ThrowawayDatabase, free_port, run_log_path

KEY, SECRET = "testing", "testing-secret"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = LoggedProcess(
        "moto_server",
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        run_log_path("moto_server"),
    ).start()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(url + "/moto-api/", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    server.wait_until(ready, timeout_s=60)
    s3 = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )
    s3.create_bucket(Bucket="orca-backups")
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def source(make_database: MakeDatabase) -> Iterator[ThrowawayDatabase]:
    with make_database("orca_bks3") as db:
        for _ in range(12):
            make_agent(db.engine())
        yield db


def _settings(tmp_path: Path, endpoint: str) -> Settings:
    return Settings(
        state_dir=tmp_path,
        backup_s3_bucket="orca-backups",
        backup_s3_prefix="nightly/",
        backup_s3_endpoint_url=endpoint,
        backup_s3_access_key_id=KEY,
        backup_s3_secret_access_key=SECRET,
    )


def test_backup_to_the_bucket_and_a_verified_restore_from_it(
    source: ThrowawayDatabase, s3_endpoint: str, tmp_path: Path, redis_url: str
) -> None:
    settings = _settings(tmp_path, s3_endpoint)
    assert isinstance(backups.store_for(settings), S3Store)
    done = run_backup(
        source.engine(),
        settings,
        database_url=source.url,
        redis_url=redis_url,
        trigger="manual",
        requested_by="test",
    )
    assert done.ok, done.message
    with source.engine().connect() as conn:
        row = backups.get_backup(conn, done.backup_id or 0)
    assert row is not None and row["store"] == "s3"
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )
    listed = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket="orca-backups")["Contents"]}
    assert listed["nightly/" + row["dump_key"]] == row["size_bytes"]
    assert "nightly/" + row["redis_key"] in listed
    assert not list((tmp_path / "backup-work").glob("*.dump"))  # the local copy is gone

    target = create_scratch_database(source.url, "orca_restore_")
    try:
        result = backups.restore_backup(
            source.engine(),
            settings,
            backup_id=row["id"],
            target_url=target,
            purpose="restore",
            requested_by="test",
        )
        assert result.ok, result.message
    finally:
        drop_scratch_database(source.url, target.rsplit("/", 1)[-1].split("?")[0])


def test_an_unreachable_bucket_fails_plainly(source: ThrowawayDatabase, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    settings = _settings(tmp_path, dead)
    done = run_backup(
        source.engine(),
        settings,
        database_url=source.url,
        redis_url=None,
        trigger="manual",
        requested_by="test",
    )
    assert not done.ok
    assert "bucket unreachable" in done.message, done.message
    with source.engine().connect() as conn:
        row = backups.get_backup(conn, done.backup_id or 0)
    assert row is not None and row["status"] == "failed"
