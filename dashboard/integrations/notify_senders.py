"""Senders for contact points: JSON webhook, Slack-style webhook, PagerDuty Events v2, SMTP.

Every send is bounded twice: httpx/smtplib timeouts per socket operation, and an overall
deadline (``run_with_deadline``) that cancels the attempt wherever it is, so a peer that
hangs or drips bytes costs at most ``deadline_s``. Nothing here logs or returns the secret
(webhook URL, routing key, password): error texts are scrubbed of it before they leave.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Final

import httpx

from dashboard.integrations.http import describe_error, make_async_client, run_with_deadline

KINDS: Final = ("webhook", "slack", "pagerduty", "email")
PAGERDUTY_DEFAULT_URL: Final = "https://events.pagerduty.com/v2/enqueue"
PD_SEVERITY: Final = {"P1": "critical", "P2": "error", "warning": "warning", "info": "info"}
MAX_REPLY: Final = 300
SOURCE: Final = "orca-ops-console"


@dataclass(frozen=True)
class Attachment:
    """A file an e-mail carries (the monthly report's PDF)."""

    filename: str
    content: bytes = field(repr=False)
    maintype: str = "application"
    subtype: str = "pdf"


@dataclass(frozen=True)
class Outgoing:
    """One message for one contact point. ``secret`` never leaves this module in any text."""

    kind: str
    config: Mapping[str, Any]
    secret: str = field(repr=False)
    subject: str
    body: str
    severity: str
    event: str = "trigger"
    group_key: str = ""
    link: str | None = None
    recipient: str | None = None
    recipient_email: str | None = None
    created_at: datetime | None = None
    #: The alerts this message is about, each with its latest event: (alert_key, event,
    #: subject). PagerDuty gets one event per alert, its dedup_key the alert key.
    alerts: tuple[tuple[str, str, str], ...] = ()
    #: E-mail only: files to attach (other kinds carry text alone).
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: float
    #: False for failures another try cannot fix (bad configuration, no recipient).
    retryable: bool = True


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 2.0
    read_s: float = 5.0
    deadline_s: float = 8.0


def scrub(text: str, secret: str) -> str:
    """``text`` without the secret (or its URL path), cut to a readable length."""
    if secret:
        text = text.replace(secret, "••••")
        if "://" in secret:
            path = secret.split("://", 1)[1].partition("/")[2]
            if len(path) >= 6:
                text = text.replace(path, "••••")
    return text[:MAX_REPLY]


def _title(out: Outgoing) -> str:
    prefix = "RESOLVED" if out.event == "resolve" else out.severity
    if out.subject.startswith(f"[{prefix}]"):  # the caller tagged it already
        return out.subject
    return f"[{prefix}] {out.subject}"


def webhook_payload(out: Outgoing) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "event": out.event,
        "severity": out.severity,
        "group_key": out.group_key,
        "subject": out.subject,
        "body": out.body,
        "link": out.link,
        "recipient": out.recipient,
        "created_at": out.created_at.isoformat() if out.created_at else None,
        "alerts": [{"alert_key": k, "event": e} for k, e, _ in out.alerts],
    }


def slack_payload(out: Outgoing) -> dict[str, Any]:
    lines = [f"*{_title(out)}*"]
    if out.recipient:
        lines.append(f"For: {out.recipient}")
    if out.body:
        lines.append(out.body)
    if out.link:
        lines.append(out.link)
    return {"text": "\n".join(lines)}


def pagerduty_events(out: Outgoing) -> list[dict[str, Any]]:
    """The Events v2 bodies for ``out``: one per alert it carries (dedup_key = the alert's
    key, so its trigger, acknowledge and resolve pair up), else one keyed by group_key."""
    if not out.alerts:
        return [pagerduty_payload(out)]
    return [pagerduty_payload(out, dedup_key=k, action=e, summary=s) for k, e, s in out.alerts]


def pagerduty_payload(
    out: Outgoing,
    *,
    dedup_key: str | None = None,
    action: str | None = None,
    summary: str | None = None,
) -> dict[str, Any]:
    action = action or out.event
    if action not in ("trigger", "acknowledge", "resolve"):
        action = "trigger"
    event: dict[str, Any] = {
        "routing_key": out.secret,
        "event_action": action,
        "dedup_key": (dedup_key or out.group_key)[:255],
    }
    if action == "trigger":
        event["payload"] = {
            "summary": (summary or out.subject)[:1024],
            "source": SOURCE,
            "severity": PD_SEVERITY.get(out.severity, "warning"),
            "custom_details": {"body": out.body, "recipient": out.recipient},
        }
        if out.link:
            event["links"] = [{"href": out.link, "text": "ORCA Ops Console"}]
    return event


def _http_target(out: Outgoing) -> tuple[str, list[dict[str, Any]], frozenset[int]]:
    """URL, the JSON bodies to post (in order) and the status codes that count as delivered."""
    if out.kind == "webhook":
        return out.secret, [webhook_payload(out)], frozenset(range(200, 300))
    if out.kind == "slack":
        return out.secret, [slack_payload(out)], frozenset(range(200, 300))
    if out.kind == "pagerduty":
        url = str(out.config.get("url") or PAGERDUTY_DEFAULT_URL)
        return url, pagerduty_events(out), frozenset({200, 201, 202})
    raise ValueError(f"not an HTTP contact point: {out.kind}")


async def _post(out: Outgoing, timeouts: Timeouts) -> tuple[int, str]:
    """Post each body; stop at the first one not accepted (a retry posts them all again,
    which PagerDuty's dedup_key makes harmless). The last status and reply."""
    url, payloads, good = _http_target(out)
    code, reply = 0, ""
    async with make_async_client(
        connect_timeout_s=timeouts.connect_s, read_timeout_s=timeouts.read_s, max_connections=1
    ) as client:
        for payload in payloads:
            resp = await client.post(
                url,
                content=json.dumps(payload, default=str).encode(),
                headers={"Content-Type": "application/json"},
            )
            code, reply = resp.status_code, resp.text[:MAX_REPLY]
            if code not in good:
                break
        return code, reply


def _email(out: Outgoing) -> EmailMessage:
    cfg = out.config
    to = [a.strip() for a in str(cfg.get("to") or "").split(",") if a.strip()]
    if not to and out.recipient_email:
        to = [out.recipient_email]
    if not to:
        raise ValueError("no recipient: set 'to' or give the person on call an e-mail address")
    msg = EmailMessage()
    msg["From"] = str(cfg.get("from_addr") or "orca-console@localhost")
    msg["To"] = ", ".join(to)
    msg["Subject"] = _title(out).replace("\n", " ")[:200]
    lines = [out.body]
    if out.link:
        lines += ["", out.link]
    msg.set_content("\n".join(lines))
    for item in out.attachments:
        msg.add_attachment(
            item.content, maintype=item.maintype, subtype=item.subtype, filename=item.filename
        )
    return msg


def _smtp_send(out: Outgoing, timeouts: Timeouts) -> None:
    cfg = out.config
    host = str(cfg.get("host") or "")
    if not host:
        raise ValueError("no SMTP host configured")
    port = int(cfg.get("port") or 25)
    msg = _email(out)
    timeout = min(timeouts.read_s, timeouts.deadline_s)
    with smtplib.SMTP(host, port, timeout=timeout) as smtp:
        if cfg.get("starttls"):
            smtp.starttls(context=ssl.create_default_context())
        username = str(cfg.get("username") or "")
        if username:
            smtp.login(username, out.secret)
        smtp.send_message(msg)


def send(out: Outgoing, timeouts: Timeouts | None = None) -> SendResult:
    """Deliver ``out`` once, within ``timeouts.deadline_s``; never raises for peer trouble."""
    timeouts = timeouts or Timeouts()
    started = time.monotonic()

    def done(ok: bool, code: int | None, error: str | None, retryable: bool = True) -> SendResult:
        return SendResult(
            ok,
            code,
            scrub(error, out.secret) if error else None,
            (time.monotonic() - started) * 1000.0,
            retryable,
        )

    try:
        if out.kind == "email":

            async def smtp_in_thread() -> None:
                await asyncio.get_running_loop().run_in_executor(None, _smtp_send, out, timeouts)

            run_with_deadline(smtp_in_thread, timeouts.deadline_s)
            return done(True, None, None)
        if out.kind not in KINDS:
            return done(False, None, f"unknown contact point kind {out.kind!r}", False)
        _, _, good = _http_target(out)
        code, reply = run_with_deadline(lambda: _post(out, timeouts), timeouts.deadline_s)
    except TimeoutError:
        return done(False, None, f"no answer within {timeouts.deadline_s:.1f} s (deadline)")
    except ValueError as exc:
        return done(False, None, str(exc), False)
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        # SMTP replies are not HTTP codes: 4xx is "try later", 5xx is final.
        return done(False, None, f"SMTP {exc.smtp_code}: {text}", 400 <= exc.smtp_code < 500)
    except (smtplib.SMTPException, OSError) as exc:
        return done(False, None, f"SMTP: {type(exc).__name__}: {exc}")
    except httpx.InvalidURL:
        return done(False, None, "the stored URL is not a valid http(s) URL", False)
    except httpx.HTTPError as exc:
        return done(False, None, describe_error(exc)[1])
    if code in good:
        return done(True, code, None)
    return done(False, code, f"HTTP {code}: {reply}")
