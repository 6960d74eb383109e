"""Worker tests never reach a real ORCA Core: whatever runs on the default port (a developer's
`make run`) must not feed its agents into the test database through the sync job."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard.settings import reset_settings
from tests.core.support import free_port


@pytest.fixture(autouse=True)
def _no_real_core(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORCA_CORE_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ORCA_OTEL_HEALTH_URL", f"http://127.0.0.1:{free_port()}/")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()
