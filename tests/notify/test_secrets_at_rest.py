"""Contact-point secrets are encrypted at rest: the raw column never holds the secret, old
plaintext rows are sealed by the next delivery cycle, and delivery still reaches the peer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from dashboard.data import notify_store as store
from dashboard.integrations import secret_box
from dashboard.settings import Settings
from dashboard.worker.notify import run_notify_cycle
from tests.notify.conftest import Clock, add_point, enqueue, fast_settings, rows
from tests.notify.peers import http_peer


def raw_secrets(engine: Engine) -> list[str]:
    return [str(r["secret"]) for r in rows(engine, "SELECT secret FROM contact_points")]


def test_the_raw_column_holds_no_secret_and_delivery_still_works(
    nengine: Engine, clock: Clock
) -> None:
    with http_peer() as hook:
        url = hook.url + "/hook/zzPlainWebhookToken42"
        point = add_point(nengine, "webhook", url)
        (raw,) = raw_secrets(nengine)
        assert raw.startswith(secret_box.PREFIX)
        assert "zzPlainWebhookToken42" not in raw and hook.url not in raw
        with nengine.connect() as conn:
            assert store.get_contact_point_secret(conn, contact_point_id=point) == url
        enqueue(nengine, at=clock(), dedupe_key="sealed:firing")
        result = run_notify_cycle(nengine, clock=clock, settings=fast_settings())
        assert result.sent == 1
        assert hook.paths == ["/hook/zzPlainWebhookToken42"]


def test_a_replaced_secret_is_stored_sealed_too(nengine: Engine) -> None:
    point = add_point(nengine, "pagerduty", "FIRSTROUTINGKEY000001")
    with nengine.begin() as conn:
        cp = store.get_contact_point(conn, contact_point_id=point)
        assert cp is not None
        assert store.update_contact_point(
            conn,
            contact_point_id=point,
            expected_version=cp.version,
            fields={"secret": "SECONDROUTINGKEY00002"},
            by="test",
            now=datetime.now(UTC),
        )
    (raw,) = raw_secrets(nengine)
    assert "SECONDROUTINGKEY00002" not in raw and raw.startswith(secret_box.PREFIX)
    with nengine.connect() as conn:
        assert store.get_contact_point_secret(conn, contact_point_id=point) == (
            "SECONDROUTINGKEY00002"
        )


def test_old_plaintext_rows_are_sealed_by_the_next_cycle(nengine: Engine, clock: Clock) -> None:
    with http_peer() as hook:
        url = hook.url + "/hook/legacyPlaintextToken7"
        with nengine.begin() as conn:  # a row as written before encryption existed
            conn.execute(
                text(
                    """INSERT INTO contact_points (name, kind, audiences, config, secret,
                           secret_hint, managed_by, created_at, updated_at, updated_by)
                       VALUES ('legacy', 'webhook', ARRAY['oncall'], '{}'::jsonb, :s, '••••',
                           'console', now(), now(), 'test')"""
                ),
                {"s": url},
            )
        assert raw_secrets(nengine) == [url]
        enqueue(nengine, at=clock(), dedupe_key="legacy:firing")
        result = run_notify_cycle(nengine, clock=clock, settings=fast_settings())
        assert result.sent == 1, "the plaintext secret still works while it is sealed"
        (raw,) = raw_secrets(nengine)
        assert raw.startswith(secret_box.PREFIX) and "legacyPlaintextToken7" not in raw
        assert hook.paths == ["/hook/legacyPlaintextToken7"]


def test_the_key_comes_from_settings_or_a_file_made_once(tmp_path: Path) -> None:
    configured = Settings(secret_key="k" * 20 + "0123456789abcdef", state_dir=tmp_path)
    sealed = secret_box.encrypt("hunter2-routing", configured)
    assert secret_box.decrypt(sealed, configured) == "hunter2-routing"
    other = Settings(secret_key="another-key-0123456789-abcdefghij", state_dir=tmp_path)
    with pytest.raises(secret_box.SecretKeyError, match="another key"):
        secret_box.decrypt(sealed, other)
    with pytest.raises(secret_box.SecretKeyError, match="at least 32"):
        secret_box.encrypt("x", Settings(secret_key="short", state_dir=tmp_path))

    unset = Settings(secret_key=None, state_dir=tmp_path / "state")
    sealed = secret_box.encrypt("from-the-file", unset)
    key_file = tmp_path / "state" / secret_box.KEY_FILE
    assert key_file.stat().st_mode & 0o077 == 0, "the key file is the owner's only"
    assert secret_box.decrypt(sealed, Settings(secret_key=None, state_dir=tmp_path / "state")) == (
        "from-the-file"
    )
    assert secret_box.decrypt("plain-old-value", unset) == "plain-old-value"
    production = Settings(env="production", secret_key=None, state_dir=tmp_path / "p")
    with pytest.raises(secret_box.SecretKeyError, match="production has no default"):
        secret_box.encrypt("x", production)
    assert "ORCA_SECRET_KEY" in (secret_box.key_problem(production) or "")
    assert not (tmp_path / "p").exists(), "production never falls back to a key file"


def test_a_secret_sealed_with_another_key_fails_the_delivery_with_a_reason(
    nengine: Engine, clock: Clock
) -> None:
    foreign = Settings(secret_key="a-key-this-console-does-not-have-000", state_dir=Path("/tmp"))
    with nengine.begin() as conn:
        conn.execute(
            text(
                """INSERT INTO contact_points (name, kind, audiences, config, secret,
                       secret_hint, managed_by, created_at, updated_at, updated_by)
                   VALUES ('foreign', 'webhook', ARRAY['oncall'], '{}'::jsonb, :s, '••••',
                       'console', now(), now(), 'test')"""
            ),
            {"s": secret_box.encrypt("http://127.0.0.1:9/x", foreign)},
        )
    enqueue(nengine, at=clock(), dedupe_key="foreign:firing")
    result = run_notify_cycle(nengine, clock=clock, settings=fast_settings())
    assert result.failed == 1
    (attempt,) = rows(nengine, "SELECT error FROM notification_attempts")
    assert "another key" in str(attempt["error"])
