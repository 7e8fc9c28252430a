"""A full disk while serving: new writes are refused with a clear error, what was accepted is
kept, the admin API keeps answering, and the server takes orders again by itself once there is
room, without a restart. The disk is a small tmpfs of the test's own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.orders import STAGES, new_order
from tests.e2e.server import Server, start_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs mounted for this test alone."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with `mount -t tmpfs -o size=16m`, which needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): no full disk to test")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    """Write zeros to ``path`` until the file system has no room left, not even a block."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512):
            with contextlib.suppress(OSError):  # ENOSPC: the next, smaller size
                while True:
                    os.write(descriptor, b"\0" * size)
    finally:
        os.close(descriptor)


async def _post(client: httpx.AsyncClient, server: Server) -> tuple[str, httpx.Response]:
    order = new_order()
    return order["item"]["order_id"], await client.post(server.url + "/", json=order)


def _accepted(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.json()["FailedEntryCount"] == 0


async def _timelines(client: httpx.AsyncClient, server: Server, orders: list[str]) -> list[str]:
    """The orders not delivered yet, after waiting up to 60 s for them."""
    pending = list(orders)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for order_id in list(pending):
            response = await client.get(f"{server.url}/orders/{order_id}")
            if response.status_code == 200:
                stages = [e["item"]["eventtype"] for e in response.json()["events"]]
                if stages == STAGES:
                    pending.remove(order_id)
        if pending:
            await asyncio.sleep(0.3)
    return pending


@pytest.mark.timeout(240)
async def test_a_full_disk_refuses_new_orders_keeps_accepted_ones_and_recovers_by_itself(
    small_disk: Path,
) -> None:
    server = start_server(("--data-dir", str(small_disk / "data"), "--log-level", "warning"))
    filler = small_disk / "filler"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            accepted = []
            for _ in range(10):
                order_id, response = await _post(client, server)
                assert _accepted(response), response.text
                accepted.append(order_id)
            assert await _timelines(client, server, accepted) == []

            # GIVEN a disk that fills up while orders keep coming
            _fill(filler)
            refusal = None
            for _ in range(400):
                order_id, response = await _post(client, server)
                if _accepted(response):
                    accepted.append(order_id)
                else:
                    refusal = response
                    break
            # THEN new orders are refused, saying why
            assert refusal is not None
            assert "full" in refusal.json()["Entries"][0]["ErrorMessage"]
            # AND the admin API still answers, naming the failure
            stats = server.stats()
            assert "full" in str(stats["event_log_failure"])

            # WHEN room comes back, the server takes orders again without a restart
            filler.unlink()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                order_id, response = await _post(client, server)
                if _accepted(response):
                    accepted.append(order_id)
                    break
                await asyncio.sleep(0.2)
            assert server.stats()["event_log_failure"] is None
            # AND every order it ever accepted is delivered, in order
            assert await _timelines(client, server, accepted) == []
            assert server.process.poll() is None
    finally:
        server.stop()
