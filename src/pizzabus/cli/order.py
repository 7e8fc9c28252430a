"""``pizzabus order``: place orders as the web client does and follow each one live."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import click
import httpx
import websockets
from rich.console import Console
from rich.live import Live
from rich.table import Table

from pizzabus.cli.server_url import url_option

STAGES = ("make_pizza", "cook_pizza", "deliver_pizza", "delivered")
PIZZAS = ("margherita", "marinara", "quattro formaggi", "diavola", "capricciosa")


@dataclass
class Tracked:
    """One order and what has been seen of it."""

    order_id: str
    pizza: str
    started: float = field(default_factory=time.monotonic)
    seen: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    #: The request never reached the server (nothing answered, or the connection failed).
    unreachable: bool = False

    @property
    def done(self) -> bool:
        return "delivered" in self.seen

    def where_stopped(self) -> str:
        """Which stage the order reached last, and which one never came."""
        reached = [stage for stage in STAGES if stage in self.seen]
        if not reached:
            return "no stage reported (make_pizza never ran)"
        following = STAGES[STAGES.index(reached[-1]) + 1]
        return f"stopped after {reached[-1]} ({following} never reported)"


def websocket_url(http_url: str) -> str:
    """``http://host:port/`` → ``ws://host:port/ws`` (the embedded runtime's WebSocket API)."""
    parts = urlsplit(http_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, "/ws", "", ""))


async def follow(order: Tracked, url: str, ws_url: str, client: httpx.AsyncClient) -> None:
    """Connect, place the order, and record each stage as it arrives."""
    separator = "&" if "?" in ws_url else "?"
    async with websockets.connect(f"{ws_url}{separator}order_id={order.order_id}") as socket:
        await socket.send(json.dumps({"action": "sync"}))
        body = {
            "item": {"order_id": order.order_id, "eventtype": "make_pizza", "pizza": order.pizza}
        }
        response = await client.post(url, json=body)
        if response.status_code != 200:
            raise click.ClickException(_refusal(response))
        async for frame in socket:
            stage = json.loads(frame).get("item", {}).get("eventtype")
            if stage in STAGES and stage not in order.seen:
                order.seen[stage] = time.monotonic() - order.started
            if order.done:
                return


def _refusal(response: httpx.Response) -> str:
    try:
        message = response.json().get("message", response.text)
    except (ValueError, AttributeError):
        message = response.text
    url = str(response.request.url)
    if response.status_code in (404, 405):
        return (
            f"{url} has no POST route ({response.status_code}): the server there serves "
            "another system, or this is not its HTTP API; give the HTTP API's URL with --url"
        )
    if response.status_code in (401, 403):
        return (
            f"{url} refused the order ({response.status_code} {response.reason_phrase}): "
            f"{message or 'not allowed'}; check that --url is the HTTP API and that it is "
            "open to this client"
        )
    return f"the order was refused ({response.status_code}): {message}"


def _table(orders: list[Tracked]) -> Table:
    table = Table(title="orders", show_lines=False)
    table.add_column("order")
    table.add_column("pizza")
    for stage in STAGES:
        table.add_column(stage, justify="right")
    for order in orders:
        cells = [
            f"{order.seen[s] * 1000:.0f} ms" if s in order.seen else ("✗" if order.error else "…")
            for s in STAGES
        ]
        table.add_row(order.order_id[:8], order.pizza, *cells)
    return table


async def run_orders(
    url: str, ws_url: str, pizza: str | None, count: int, timeout: float, console: Console
) -> list[Tracked]:
    orders = [Tracked(str(uuid.uuid4()), pizza or PIZZAS[i % len(PIZZAS)]) for i in range(count)]
    limits = httpx.Limits(max_connections=min(count, 100))
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        gate = asyncio.Semaphore(100)

        async def one(order: Tracked) -> None:
            async with gate:
                try:
                    await asyncio.wait_for(follow(order, url, ws_url, client), timeout)
                except TimeoutError:
                    order.error = f"not delivered within {timeout:g} s"
                except websockets.InvalidStatus as error:
                    order.error = _socket_refusal(ws_url, error.response.status_code)
                except (OSError, httpx.HTTPError, websockets.WebSocketException) as error:
                    order.error = f"cannot reach the server: {error}"
                    order.unreachable = True
                except click.ClickException as error:
                    order.error = error.message

        with Live(
            _table(orders), console=console, refresh_per_second=8, transient=count > 20
        ) as live:
            tasks = [asyncio.create_task(one(o)) for o in orders]
            while not all(t.done() for t in tasks):
                await asyncio.wait(tasks, timeout=0.125)
                live.update(_table(orders))
    return orders


def _socket_refusal(ws_url: str, status: int) -> str:
    if status in (403, 404, 405):
        # A server with no WebSocket route at this path answers 403 (Starlette) or 404.
        return (
            f"the WebSocket API at {ws_url} refused the connection ({status}): the server there "
            "has no WebSocket API at this path (it may serve another system); give the order "
            "system's HTTP API with --url, or its WebSocket API with --ws-url"
        )
    return f"the WebSocket API at {ws_url} refused the connection ({status})"


def _failure_report(failed: list[Tracked], url: str) -> str:
    """Why orders did not complete, and where to look next."""
    if all(o.unreachable for o in failed):
        reasons = "; ".join(sorted({o.error or "" for o in failed}))
        return (
            f"{len(failed)} order(s) did not complete: {reasons}. "
            f"Is `pizzabus serve` running at {url}?"
        )
    lines = [f"{len(failed)} order(s) did not complete:"]
    refused = sorted(
        {o.error for o in failed if o.error and not o.error.startswith("not delivered")}
    )
    lines += [f"  {reason}" for reason in refused]
    stalled = [o for o in failed if o.error is None or o.error.startswith("not delivered")]
    by_stage: dict[str, list[Tracked]] = {}
    for o in stalled:
        by_stage.setdefault(o.where_stopped(), []).append(o)
    for where, orders in by_stage.items():
        ids = ", ".join(o.order_id for o in orders[:3]) + (" …" if len(orders) > 3 else "")
        lines.append(f"  {len(orders)} {where}: {ids}")
    if stalled:
        example = stalled[0].order_id
        lines += [
            "Where to look:",
            "  pizzabus faults show        are faults injected into a function?",
            "  pizzabus dlq list           did a stage run out of retries?",
            f"  pizzabus trace {example}   the order's events, invocations and errors",
            "  the server's log            each failed attempt is logged with its error",
        ]
    return "\n".join(lines)


@click.command()
@url_option
@click.option("--ws-url", default=None, help="The WebSocket API (default: derived from --url).")
@click.option("--pizza", default=None, help="Which pizza (default: a mix).")
@click.option("--count", type=click.IntRange(1, 100_000), default=1, show_default=True)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds per order.")
def order(url: str, ws_url: str | None, pizza: str | None, count: int, timeout: float) -> None:
    """Place orders and show each one's progress live until it is delivered."""
    console = Console()
    if not urlsplit(url).path:
        url = f"{url}/"  # POST / of the HTTP API
    started = time.monotonic()
    orders = asyncio.run(
        run_orders(url, ws_url or websocket_url(url), pizza, count, timeout, console)
    )
    elapsed = time.monotonic() - started
    failed = [o for o in orders if not o.done]
    delivered = len(orders) - len(failed)
    console.print(f"{delivered}/{len(orders)} delivered in {elapsed:.2f} s")
    if failed:
        raise click.ClickException(_failure_report(failed, url))
