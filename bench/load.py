"""`ORCA_BENCH_ONLY_LOAD=1 make bench`: 50 concurrent real sessions on two consoles.

Two console servers (the `python -m dashboard.ui.serve` the README runs) and one worker share
a small demo database and the bench's Redis. 50 signed-in sessions (real sign-ins, each its
own session cookie) open Service Health with auto-refresh every 10 s, alternating between the
consoles, and stay for ORCA_BENCH_LOAD_S (default 300 s). Each session speaks Streamlit's own
websocket protocol (tests/ws_viewer.py), so the consoles do all the work a browser tab costs
them (session, script runs, fragment reruns, deltas) without 50 Chromiums on the machine.

Printed, per console and together: CPU (process CPU seconds / wall seconds, so 1.0 = one core),
RSS memory before the sessions (after one warm-up session per console), at its peak and 2
minutes after the sessions closed (ORCA_BENCH_LOAD_SETTLE_S; target within 10 % of before),
and the page run p95: the sessions' own round trips (request to script_finished, first loads
and auto-refresh runs apart) and the consoles' orca_page_run_seconds histogram.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from dashboard.actions.base import system_actor
from dashboard.actions.users import add_user
from dashboard.db.engine import make_engine
from dashboard.domain.permissions import Role
from dashboard.ui.serve import local_command
from tests.harness import LoggedProcess, free_port
from tests.ws_viewer import Viewer, signed_in_cookie

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = int(os.environ.get("ORCA_BENCH_LOAD_SESSIONS", "50"))
DURATION_S = float(os.environ.get("ORCA_BENCH_LOAD_S", "300"))
SETTLE_S = float(os.environ.get("ORCA_BENCH_LOAD_SETTLE_S", "120"))
AGENTS = int(os.environ.get("ORCA_BENCH_LOAD_AGENTS", "1000"))
SAMPLE_S = 5.0
TARGET_MEMORY_BACK = 0.10
DB_NAME = "orca_bench_load"


@dataclass
class Console:
    name: str
    url: str
    process: LoggedProcess

    @property
    def _proc(self) -> Path:
        assert self.process.proc is not None
        return Path("/proc") / str(self.process.proc.pid)

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server process so far (Linux /proc)."""
        fields = (self._proc / "stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        """Resident memory of the server process now, in MiB."""
        status = (self._proc / "status").read_text()
        kib = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        assert kib is not None
        return int(kib.group(1)) / 1024

    def page_run_p95_s(self) -> float | None:
        """p95 of orca_page_run_seconds (all pages) from the console's /metrics buckets."""
        body = httpx.get(self.url + "/metrics", timeout=10).text
        buckets: dict[float, float] = {}
        for le, count in re.findall(
            r'^orca_page_run_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\S+)', body, re.M
        ):
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + float(count)
        total = buckets.get(float("inf"), 0.0)
        if not total:
            return None
        for bound in sorted(buckets):
            if buckets[bound] >= 0.95 * total:
                return bound
        return None


def _start_console(name: str, env: dict[str, str]) -> Console:
    port = free_port()
    log = ROOT / ".state" / "bench" / f"load-{name}.log"
    proc = LoggedProcess(name, local_command(port), log, env=env, cwd=ROOT).start()
    console = Console(name, f"http://127.0.0.1:{port}", proc)

    def healthy() -> bool:
        try:
            return httpx.get(console.url + "/_stcore/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    proc.wait_until(healthy, timeout_s=120)
    return console


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else 0.0


def run_load_bench(
    admin: str,
    redis_url: str,
    *,
    now: datetime,
    demo_database: Callable[[str, str, datetime, int, int], str],
    drop_database: Callable[[str], None],
) -> int:
    """The load run; 0 when it completed (figures are printed, targets beside them)."""
    print(
        f"== Load: {SESSIONS} sessions on Service Health (auto-refresh 10 s) for {DURATION_S:.0f} s,"
        f" two consoles, one worker, {AGENTS:,} demo agents"
    )
    url = demo_database(admin, DB_NAME, now, AGENTS, 2)
    engine = make_engine(url)
    name, password = f"load{secrets.token_hex(4)}", secrets.token_urlsafe(18) + "aA1!"
    add_user(engine, system_actor("bench"), name, password=password, roles=[Role.ONCALL.value])
    cookie_key = "bench-" + secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "ORCA_DATABASE_URL": url,
        "ORCA_REDIS_URL": redis_url,
        "ORCA_FIXED_NOW": now.isoformat(),
        "ORCA_COOKIE_KEY": cookie_key,
    }
    worker = LoggedProcess(
        "worker",
        [sys.executable, "-m", "dashboard.cli", "worker"],
        ROOT / ".state" / "bench" / "load-worker.log",
        env=env,
        cwd=ROOT,
    )
    consoles: list[Console] = []
    try:
        worker.start()
        consoles = [_start_console("console-a", env), _start_console("console-b", env)]
        # One warm-up session per console: the page's modules and caches load once per
        # process; "before" is the level of a console that has served a page.
        for console in consoles:
            cookie = signed_in_cookie(engine, name, password, cookie_key)
            warm = Viewer(console.url, "service_health", cookie, query="refresh=10+s")
            warm.connect(timeout_s=120)
            warm.close()
        time.sleep(SAMPLE_S)
        before = {c.name: c.rss_mb() for c in consoles}
        cookies = [signed_in_cookie(engine, name, password, cookie_key) for _ in range(SESSIONS)]
        viewers = [
            Viewer(consoles[i % 2].url, "service_health", cookie, query="refresh=10+s")
            for i, cookie in enumerate(cookies)
        ]
        cpu0 = {c.name: c.cpu_s() for c in consoles}
        started = time.monotonic()

        def open_one(viewer: Viewer) -> None:
            viewer.connect(timeout_s=180)
            viewer.start_refreshing()

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(open_one, viewers))
        opened_s = time.monotonic() - started
        peak = dict(before)
        while time.monotonic() - started < DURATION_S:
            time.sleep(SAMPLE_S)
            for c in consoles:
                peak[c.name] = max(peak[c.name], c.rss_mb())
        wall = time.monotonic() - started
        cpu = {c.name: (c.cpu_s() - cpu0[c.name]) / wall for c in consoles}
        at_close = {c.name: c.rss_mb() for c in consoles}
        server_p95 = {c.name: c.page_run_p95_s() for c in consoles}
        for viewer in viewers:
            viewer.close()
        closed = time.monotonic()
        curve: list[str] = []  # both consoles' RSS every 20 s after the close
        while time.monotonic() - closed < SETTLE_S:
            time.sleep(min(20.0, max(0.0, SETTLE_S - (time.monotonic() - closed))))
            curve.append(
                f"{time.monotonic() - closed:.0f} s: {sum(c.rss_mb() for c in consoles):.0f} MB"
            )
        after = {c.name: c.rss_mb() for c in consoles}
        settle_wall = time.monotonic() - closed

        first = [r.seconds for v in viewers for r in v.runs if not r.fragment]
        refresh = [r.seconds for v in viewers for r in v.fragment_runs]
        failed = [r for v in viewers for r in v.runs if not r.ok]
        errors = [e for v in viewers for e in v.errors]
        print(f"  {SESSIONS} sessions open after {opened_s:.0f} s; ran {wall:.0f} s")
        print(
            f"  runs: {len(first)} first loads p95 {_p95(first) * 1000:.0f} ms, "
            f"{len(refresh)} auto-refresh runs p95 {_p95(refresh) * 1000:.0f} ms "
            f"(expected about {SESSIONS * DURATION_S / 10:.0f}); {len(failed)} failed, "
            f"{len(errors)} errors"
        )
        print(
            f"  {'console':10} {'CPU':>7} {'RSS before':>11} {'peak':>9} {'at close':>9} "
            f"{'after ' + str(round(settle_wall)) + ' s':>11} {'back?':>8} {'page run p95':>13}"
        )
        for c in consoles:
            back = (after[c.name] - before[c.name]) / before[c.name]
            p95 = server_p95[c.name]
            print(
                f"  {c.name:10} {cpu[c.name]:6.2f}c {before[c.name]:8.0f} MB {peak[c.name]:6.0f} MB "
                f"{at_close[c.name]:6.0f} MB {after[c.name]:8.0f} MB {back:+7.1%} "
                f"{'<= ' + format(p95, 'g') + ' s' if p95 is not None else 'n/a':>13}"
            )
        total_before, total_after = sum(before.values()), sum(after.values())
        print(
            f"  together: CPU {sum(cpu.values()):.2f} cores, RSS {total_before:.0f} MB before, "
            f"{sum(peak.values()):.0f} MB peak, {total_after:.0f} MB after "
            f"({(total_after - total_before) / total_before:+.1%}; target within "
            f"{TARGET_MEMORY_BACK:.0%})"
        )
        print("  RSS of both after the close: " + ", ".join(curve) + "\n")
        if errors:
            print("  first errors:", errors[:3])
    finally:
        for c in consoles:
            c.process.stop(timeout_s=15)
        worker.stop(timeout_s=15)
        engine.dispose()
        drop_database(admin)
    return 0
