"""``pizzabus cluster`` as a newcomer runs it: what it prints, and a clean Ctrl+C.

GIVEN ``pizzabus cluster`` on free ports and a fresh database, WHEN it says it is ready, THEN
its lines name the gateway, a console URL that lets the admin in, and the Prometheus targets;
AND WHEN Ctrl+C, THEN everything stops with exit 0 and no warning (closing our own NATS
connections is no lost connection).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import httpx
import pytest

from tests.e2e.server import REPO, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

READY = "Press Ctrl+C to stop everything."


def test_the_cluster_prints_where_to_look_and_stops_cleanly(postgres_dsn: str) -> None:
    command = [sys.executable, "-m", "pizzabus", "cluster", "--port", "0", "--workers", "1"]
    process = subprocess.Popen(
        [*command, "--no-reload", "--tables", postgres_dsn],
        cwd=REPO,
        env=server_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:
            lines.append(line)
            if line.strip() == READY:
                break
        output = "".join(lines)
        assert READY in output, output
        gateway = re.search(r"^gateway\s+(http://\S+)/", output, re.MULTILINE)
        console = re.search(r"^console\s+(http://\S+)", output, re.MULTILINE)
        assert gateway, output
        assert console, output
        assert console.group(1).startswith(f"{gateway.group(1)}/_pizzabus/?token=")
        # The console URL is the way in: it trades its token for the console's cookie.
        assert httpx.get(console.group(1), timeout=10).status_code == 303
        assert f"{gateway.group(1)}/_pizzabus/metrics/targets" in output

        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest
    assert "stopping…" in rest
    assert "WARNING" not in rest, rest
    assert "Traceback" not in rest, rest
