"""``pizzabus retries``: deliveries waiting for their next attempt, and cancelling them.

A delivery whose function failed waits out a backoff (up to a day, by the retry policy) before
it is tried again. While it waits it holds no room in the bus's admission budget; these
commands show what waits and stop it (cancelled deliveries go to the dead-letter queue, where
``pizzabus dlq redrive`` or ``purge`` take over).
"""

from __future__ import annotations

import time

import click
from rich.console import Console
from rich.table import Table

from pizzabus.cli.admin import call, url_option


@click.group()
def retries() -> None:
    """List or cancel deliveries waiting for a retry."""


@retries.command("list")
@url_option
def retries_list(url: str, token: str | None) -> None:
    """List the deliveries waiting for a retry, soonest first."""
    waiting = call(url, "GET", "/retries")["Retries"]
    console = Console()
    if not waiting:
        console.print("No delivery is waiting for a retry.")
        return
    table = Table(title=f"{len(waiting)} delivery(ies) waiting for a retry")
    for column in ("id", "next attempt", "rule → target", "attempts", "last error"):
        table.add_column(column)
    for retry in waiting:
        table.add_row(
            retry["id"],
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(retry["next_attempt_at"])),
            f"{retry['rule']} → {retry['target']}",
            str(retry["attempts"]),
            f"{retry['error_type']}: {retry['error_message']}"[:80],
        )
    console.print(table)


@retries.command("cancel")
@click.argument("retry_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Cancel every waiting retry.")
@url_option
def retries_cancel(
    retry_ids: tuple[str, ...], everything: bool, url: str, token: str | None
) -> None:
    """Stop retrying deliveries (by id, or --all); they go to the dead-letter queue."""
    if bool(retry_ids) == everything:
        raise click.UsageError("name the retries to cancel, or pass --all (not both)")
    body = {"all": True} if everything else {"ids": list(retry_ids)}
    result = call(url, "POST", "/retries/cancel", body)
    click.echo(
        f"Cancelled: {result['Cancelled']} (now dead letters: `pizzabus dlq list`, "
        "`pizzabus dlq redrive`)"
    )
