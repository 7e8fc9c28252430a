"""A replay on a running cluster, as a user runs it: ``pizzabus replay`` against a gateway re-sends
the archived events of its window, marked, to the named rule, and the worker runs each once
(the audit function counts every invocation per event and replay in a shared table)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from pizzabus.cli.main import cli
from pizzabus.devservers.nats import NatsServer
from tests.distributed.cluster import Cluster, running_cluster, wait_until
from tests.e2e.orders import STAGES, new_order

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cluster(module_nats_server: NatsServer, module_postgres_dsn: str) -> Iterator[Cluster]:
    system = ("--system", "tests.e2e.test_systems:AUDITED")
    with running_cluster(module_nats_server.url, module_postgres_dsn, 2, 1, *system) as running:
        yield running


def _order(client: httpx.Client, url: str) -> str:
    """Place an order and wait until its four stages ran; its id."""
    order = new_order()
    order_id = str(order["item"]["order_id"])
    assert client.post(url + "/", json=order).json()["FailedEntryCount"] == 0

    def delivered() -> bool:
        response = client.get(f"{url}/orders/{order_id}")
        if response.status_code != 200:
            return False
        return [e["item"]["eventtype"] for e in response.json()["events"]] == STAGES

    wait_until(delivered, f"the four stages of {order_id}")
    return order_id


def test_pizzabus_replay_re_sends_exactly_the_window_to_the_named_rule(cluster: Cluster) -> None:
    a, b = cluster.gateways
    with httpx.Client(timeout=30) as client:
        _order(client, a.url)  # GIVEN an order before the window,
        time.sleep(0.05)
        start = time.time()
        inside = [_order(client, a.url) for _ in range(2)]  # two in it,
        end = time.time()
        time.sleep(0.05)
        _order(client, a.url)  # and one after it

        # WHEN the window is replayed to the audit rule through gateway B
        replayed = CliRunner().invoke(
            cli,
            [
                *("replay", "--from", repr(start), "--to", repr(end)),
                *("--rule", "audit_rule", "--name", "window", "--url", b.url),
            ],
        )
        assert replayed.exit_code == 0, replayed.output
        state = client.get(f"{a.url}/_pizzabus/replays/window", headers=a.admin_headers).json()
        assert state["State"] == "COMPLETED"
        assert state["EventsReplayed"] == state["EventsTotal"] == 8  # 2 orders x 4 stages

        # THEN the audit function got those 8 events again, marked, each once
        def audited() -> list[dict[str, Any]] | None:
            records: list[dict[str, Any]] = client.get(f"{a.url}/audit").json()
            mine = [r for r in records if r["replay"] == "window"]
            return records if len(mine) >= 8 else None

        records = wait_until(audited, "the 8 replayed events at the audit function")
    replayed_records = [r for r in records if r["replay"] == "window"]
    originals = {r["id"] for r in records if r["replay"] == ""}
    assert len(replayed_records) == 8
    assert {r["order_id"] for r in replayed_records} == set(inside)
    assert {r["id"] for r in replayed_records} <= originals  # the same events, marked
    assert sorted(r["eventtype"] for r in replayed_records) == sorted(STAGES * 2)
    assert all(r["invocations"] == 1 for r in replayed_records)
