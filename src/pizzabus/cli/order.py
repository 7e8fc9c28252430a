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

    @property
    def done(self) -> bool:
        return "delivered" in self.seen


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
    except ValueError:
        message = response.text
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
                except (OSError, httpx.HTTPError, websockets.WebSocketException) as error:
                    order.error = f"cannot reach the server: {error}"
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


@click.command()
@click.option("--url", default="http://127.0.0.1:8000/", show_default=True, help="The HTTP API.")
@click.option("--ws-url", default=None, help="The WebSocket API (default: derived from --url).")
@click.option("--pizza", default=None, help="Which pizza (default: a mix).")
@click.option("--count", type=click.IntRange(1, 100_000), default=1, show_default=True)
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds per order.")
def order(url: str, ws_url: str | None, pizza: str | None, count: int, timeout: float) -> None:
    """Place orders and show each one's progress live until it is delivered."""
    console = Console()
    started = time.monotonic()
    orders = asyncio.run(
        run_orders(url, ws_url or websocket_url(url), pizza, count, timeout, console)
    )
    elapsed = time.monotonic() - started
    failed = [o for o in orders if not o.done]
    delivered = len(orders) - len(failed)
    console.print(f"{delivered}/{len(orders)} delivered in {elapsed:.2f} s")
    if failed:
        reasons = sorted({o.error or "stalled" for o in failed})
        raise click.ClickException(
            f"{len(failed)} order(s) did not complete: {'; '.join(reasons)}. "
            f"Is `pizzabus serve` running at {url}?"
        )
