"""The embedded Redis: a second process reuses it and, when it stops, leaves it running."""

from __future__ import annotations

from pathlib import Path

import redis

from dashboard.embedded import EmbeddedRedis
from tests.harness import free_port


def test_reuser_does_not_stop_the_owners_server(tmp_path: Path) -> None:
    port = free_port()
    owner = EmbeddedRedis(tmp_path, port)
    url = owner.start()
    try:
        reuser = EmbeddedRedis(tmp_path, port)
        assert reuser.start() == url
        reuser.stop()
        assert redis.Redis.from_url(url, socket_timeout=1).ping()
    finally:
        owner.stop()
    try:
        redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5).ping()
        stopped = False
    except redis.ConnectionError:
        stopped = True
    assert stopped
