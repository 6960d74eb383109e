"""Doctor's further checks, incl. certificate expiry against a real local TLS server."""

from __future__ import annotations

import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import text

from dashboard.data import ops_checks
from dashboard.data.checks import run_checks
from dashboard.db.engine import make_engine
from dashboard.integrations.tls import check_certificate
from dashboard.settings import Settings


def _cert(where: Path, days: int) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 valid ``days`` days (openssl, real)."""
    key, crt = where / f"key{days}.pem", where / f"crt{days}.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(crt),
            "-days",
            str(days),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return key, crt


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        return


def _serve(key: Path, crt: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"https://127.0.0.1:{server.server_address[1]}/"


@pytest.fixture(scope="module")
def tls_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, Path]]]:
    where = tmp_path_factory.mktemp("tls")
    made: dict[str, tuple[str, Path]] = {}
    servers = []
    for label, days in (("long", 365), ("short", 2)):
        key, crt = _cert(where, days)
        server, url = _serve(key, crt)
        servers.append(server)
        made[label] = (url, crt)
    yield made
    for s in servers:
        s.shutdown()


def test_certificate_expiry_ok_warn_and_untrusted(tls_servers: dict[str, tuple[str, Path]]) -> None:
    url, ca = tls_servers["long"]
    long = check_certificate(url, warn_days=21, ca_file=ca)
    assert long.verdict == "ok" and long.days_left is not None and 360 < long.days_left < 366
    short_url, short_ca = tls_servers["short"]
    short = check_certificate(short_url, warn_days=21, ca_file=short_ca)
    assert short.verdict == "warn" and "days" in short.detail
    # Seen from three days on, the short one has expired.
    later = check_certificate(
        short_url, warn_days=21, ca_file=short_ca, now=datetime.now(UTC) + timedelta(days=3)
    )
    assert later.verdict == "fail" and "expired" in later.detail
    untrusted = check_certificate(url, warn_days=21)  # no CA given: self-signed is refused
    assert untrusted.verdict == "fail" and "not accepted" in untrusted.detail
    assert check_certificate("http://x/", warn_days=1).verdict == "fail"


def test_doctor_lists_tls_backup_disk_and_pgvector(
    tls_servers: dict[str, tuple[str, Path]], db_url: str, redis_url: str, tmp_path: Path
) -> None:
    url, ca = tls_servers["short"]
    settings = Settings(
        tls_check_urls=url,
        tls_ca_file=ca,
        state_dir=tmp_path,
        database_url=db_url,
        redis_url=redis_url,
    )
    checks = run_checks(settings, database_url=db_url, redis_url=redis_url, origin="settings")
    by = {c.name: c for c in checks}
    assert by["tls"].verdict == "warn" and "renew" in by["tls"].detail
    # The embedded PostgreSQL 16 ships pgvector; a server without it is a warning, not a failure.
    engine = make_engine(db_url)
    with engine.connect() as conn:
        available = conn.execute(
            text("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
        ).scalar_one()
    engine.dispose()
    assert by["pgvector"].verdict == ("ok" if available else "warn")
    assert by["disk"].verdict == "ok" and "GB free" in by["disk"].detail
    assert by["backup"].verdict in ("warn", "ok")
    full = Settings(state_dir=tmp_path, doctor_min_free_disk_pct=100)
    assert ops_checks.disk_check(full).verdict == "fail"


def test_production_defaults_fail_with_a_hint() -> None:
    check = ops_checks.settings_complete_check(Settings(env="production"))
    assert check.verdict == "fail"
    assert "ORCA_COOKIE_KEY" in check.detail and "fix:" in check.detail
