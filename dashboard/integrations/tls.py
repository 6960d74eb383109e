"""Certificate expiry of an HTTPS endpoint: connect, verify, read notAfter (stdlib ssl only)."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class CertStatus:
    url: str
    verdict: str  # ok, warn, fail
    detail: str
    not_after: datetime | None = None
    days_left: float | None = None


def check_certificate(
    url: str,
    *,
    warn_days: int,
    ca_file: Path | None = None,
    timeout_s: float = 3.0,
    now: datetime | None = None,
) -> CertStatus:
    """ok when trusted and valid for more than ``warn_days``; warn when sooner; fail when
    expired, untrusted, for another host, or unreachable."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return CertStatus(url, "fail", "not an https:// URL")
    host, port = parts.hostname, parts.port or 443
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout_s) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            cert = tls.getpeercert()
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or str(exc)
        return CertStatus(url, "fail", f"certificate not accepted: {reason}")
    except (OSError, ssl.SSLError) as exc:
        return CertStatus(url, "fail", f"cannot connect: {exc}")
    if not cert or "notAfter" not in cert:
        return CertStatus(url, "fail", "the server sent no certificate")
    not_after = datetime.fromtimestamp(ssl.cert_time_to_seconds(str(cert["notAfter"])), UTC)
    days = (not_after - (now or datetime.now(UTC))).total_seconds() / 86400
    if days <= 0:
        return CertStatus(url, "fail", f"expired on {not_after:%Y-%m-%d}", not_after, days)
    verdict = "warn" if days < warn_days else "ok"
    return CertStatus(
        url,
        verdict,
        f"valid until {not_after:%Y-%m-%d %H:%M} UTC ({days:.1f} days)",
        not_after,
        days,
    )


def configured_urls(setting: str) -> list[str]:
    return [u.strip() for u in setting.split(",") if u.strip()]
