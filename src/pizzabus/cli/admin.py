"""``pizzabus dlq``, ``pizzabus replay`` and ``pizzabus faults``: controls of a running server.

They talk to the server's ``/_pizzabus/`` API, since redriving and replaying need the running
bus. ``--url`` goes on the group or the subcommand (``pizzabus.cli.server_url`` says how the
server is found without it). The API needs the server's admin token: for a server on this
machine they read it from the server's record (``pizzabus.access``); ``--token`` or
``PIZZABUS_ADMIN_TOKEN`` give it otherwise.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click
import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pizzabus.access import ADMIN_TOKEN_ENV, TOKEN_HEADER, client_token
from pizzabus.cli.server_url import group_url_option, resolve_url
from pizzabus.cli.server_url import url_option as _url
from pizzabus.errors import PizzabusError

_TOKEN_HELP = (
    f"The server's admin token (default: {ADMIN_TOKEN_ENV}, else read from the record of the "
    "server on this machine)."
)
#: Where a group's ``--token`` waits for its subcommand.
_TOKEN_KEY = "pizzabus.token"


def _remember_token(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[_TOKEN_KEY] = value


_group_token = click.option(
    "--token", default=None, expose_value=False, callback=_remember_token, help=_TOKEN_HELP
)
_token = click.option("--token", default=None, help=_TOKEN_HELP)


def url_option(command: Any) -> Any:
    """``--url`` and ``--token``: which server, and its admin token."""
    return _url(_token(command))


def group_options(group: Any) -> Any:
    """``--url`` and ``--token`` on a group, for whichever subcommand runs."""
    return group_url_option(_group_token(group))


def _token_for(url: str) -> str | None:
    context = click.get_current_context()
    token = context.params.get("token") or context.meta.get(_TOKEN_KEY)
    try:
        return client_token(url, token)
    except PizzabusError as error:
        raise click.ClickException(error.message) from error


def call(url: str, method: str, path: str, body: Any = None) -> Any:
    """One admin API call; a clear error when the server is not there or refuses."""
    token = _token_for(url)
    headers = {TOKEN_HEADER: token} if token else {}
    try:
        response = httpx.request(
            method, f"{url.rstrip('/')}/_pizzabus{path}", json=body, headers=headers, timeout=30
        )
    except httpx.TransportError as error:
        raise click.ClickException(
            f"cannot reach a pizzabus server at {url} ({error}); start one with "
            "`pizzabus serve`, or pass --url (or set PIZZABUS_URL) to the one that runs"
        ) from error
    try:
        document = response.json()
    except ValueError:
        if response.status_code in (404, 405):  # not pizzabus's JSON: no admin API there
            raise click.ClickException(
                f"{url} answered {response.status_code} to {method} /_pizzabus{path}: it is "
                "not a pizzabus server (or not this version); pass --url (or set "
                "PIZZABUS_URL) to the server `pizzabus serve` printed"
            ) from None
        document = {"message": response.text}
    if response.status_code == 401:
        raise click.ClickException(
            f"the server at {url} refused the admin token"
            + ("" if token else " (none found: is the server on another machine?)")
            + f"; pass --token or set {ADMIN_TOKEN_ENV} to the token of that server"
        )
    if response.status_code >= 400:
        raise click.ClickException(document.get("message") or f"HTTP {response.status_code}")
    return document


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


@click.group()
@group_options
def dlq() -> None:
    """Inspect and redrive dead letters: deliveries that ran out of retries."""


@dlq.command("list")
@url_option
def dlq_list(url: str, token: str | None) -> None:
    """List the dead letters."""
    letters = call(url, "GET", "/dlq")["DeadLetters"]
    console = Console()
    if not letters:
        console.print("The dead-letter queue is empty.")
        return
    table = Table(title=f"{len(letters)} dead letter(s)")
    # The id is what `dlq show` and `dlq redrive` take: never cut, whatever the terminal's
    # width; the error folds onto more lines instead.
    table.add_column("id", no_wrap=True, min_width=max(len(x["id"]) for x in letters))
    table.add_column("when", no_wrap=True)
    # Names are what people search for: never cut inside one; the error folds instead.
    table.add_column("target", no_wrap=True, min_width=max(len(x["target"]) for x in letters))
    table.add_column("rule", overflow="fold")
    table.add_column("tries", justify="right")
    table.add_column("last error", overflow="fold", ratio=1)
    for letter in letters:
        table.add_row(
            letter["id"],
            time.strftime("%H:%M:%S", time.localtime(letter["at"])),
            letter["target"],
            letter["rule"],
            str(letter["attempts"]),
            f"{letter['reason']}: {letter['error_type']}: {letter['error_message']}"[:300],
        )
    console.print(table)
    console.print("`pizzabus dlq show ID` shows one with its event and stack trace.")


def resolve_letter_id(url: str, given: str) -> str:
    """The dead letter's full id from its id or a unique prefix of it (as git takes commits)."""
    ids = [str(letter["id"]) for letter in call(url, "GET", "/dlq")["DeadLetters"]]
    if given in ids:
        return given
    matches = [i for i in ids if i.startswith(given)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise click.ClickException(
            f"{given!r} is the start of {len(matches)} dead letters ({', '.join(matches)}); "
            "give more of the id"
        )
    raise click.ClickException(
        f"no dead letter {given!r}; `pizzabus dlq list` shows the ones there are"
    )


@dlq.command("show")
@click.argument("letter_id")
@click.option("--json", "as_json", is_flag=True, help="Print the dead letter as JSON.")
@url_option
def dlq_show(letter_id: str, as_json: bool, url: str, token: str | None) -> None:
    """Show one dead letter: its error as Lambda reports it, and its event.

    LETTER_ID is the id `dlq list` shows, or any unique start of it. The error is Lambda's
    errorType, errorMessage and stackTrace."""
    letter = call(url, "GET", f"/dlq/{resolve_letter_id(url, letter_id)}")
    if as_json:
        click.echo(json.dumps(letter, indent=2))
        return
    console = Console(highlight=False)
    console.print(f"[bold]{letter['id']}[/]  {_when(letter['at'])}", soft_wrap=True)
    console.print(
        f"  {letter['rule']} → {letter['target']}: {letter['reason']} after "
        f"{letter['attempts']} attempt(s)",
        soft_wrap=True,
        markup=False,
    )
    console.print(f"  errorType     {letter['error_type']}", markup=False, soft_wrap=True)
    console.print(f"  errorMessage  {letter['error_message']}", markup=False, soft_wrap=True)
    trace = letter.get("stack_trace") or []
    if trace:
        console.print("  stackTrace", markup=False)
        for frame in trace:
            for line in frame.rstrip().splitlines():
                console.print(f"  {line}", markup=False, soft_wrap=True)
    event = letter.get("event", letter.get("event_base64"))
    console.print("  event", markup=False)
    click.echo(json.dumps(event, indent=2))


@dlq.command("redrive")
@click.argument("letter_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Redrive every dead letter.")
@url_option
def dlq_redrive(letter_ids: tuple[str, ...], everything: bool, url: str, token: str | None) -> None:
    """Deliver dead letters again (by id, or --all)."""
    if bool(letter_ids) == everything:
        raise click.UsageError("name the dead letters to redrive, or pass --all (not both)")
    body = (
        {"all": True}
        if everything
        else {"ids": [resolve_letter_id(url, given) for given in letter_ids]}
    )
    result = call(url, "POST", "/dlq/redrive", body)
    click.echo(f"Redriven: {result['Redriven']}")


@dlq.command("purge")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@url_option
def dlq_purge(yes: bool, url: str, token: str | None) -> None:
    """Delete every dead letter."""
    if not yes:
        click.confirm("Delete every dead letter for good?", abort=True)
    click.echo(f"Purged: {call(url, 'DELETE', '/dlq')['Purged']}")


@click.group(invoke_without_command=True)
@click.option("--from", "start", help="Start of the window (ISO 8601, epoch seconds).")
@click.option("--to", "end", default="now", show_default=True, help="End of the window.")
@click.option("--rule", "rules", multiple=True, help="Replay to this rule only (repeatable).")
@click.option("--bus", default=None, help="The bus (default: the only one).")
@click.option("--name", default=None, help="Name of the replay (default: generated).")
@group_options
@click.pass_context
def replay(
    ctx: click.Context,
    start: str | None,
    end: str,
    rules: tuple[str, ...],
    bus: str | None,
    name: str | None,
) -> None:
    """Replay archived events of a time window to the bus's rules, showing progress.

    Subcommands: `replay list`, `replay cancel NAME`.
    """
    if ctx.invoked_subcommand is not None:
        return
    if start is None:
        raise click.UsageError("give the window: pizzabus replay --from 2026-11-28T09:00:00Z")
    request: dict[str, Any] = {
        "from": _number_or_text(start),
        "to": _number_or_text(end),
        "bus": bus,
        "name": name,
    }
    if rules:
        request["rules"] = list(rules)
    url = resolve_url(ctx=ctx)
    started = call(url, "POST", "/replays", request)
    follow_replay(url, started["ReplayName"])


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


def follow_replay(url: str, name: str) -> None:
    """Show a replay's progress until it ends; Ctrl+C cancels it."""
    console = Console()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    state: dict[str, Any] = {}
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"replay {name}", total=None)
        try:
            while True:
                state = call(url, "GET", f"/replays/{name}")
                progress.update(
                    task, total=state["EventsTotal"] or None, completed=state["EventsReplayed"]
                )
                if state["State"] in ("COMPLETED", "CANCELLED", "FAILED"):
                    break
                time.sleep(0.2)
        except KeyboardInterrupt:
            call(url, "POST", f"/replays/{name}/cancel")
            console.print(f"Cancelling replay {name}.")
            return
    console.print(
        f"Replay {name}: {state['State']}, {state['EventsReplayed']} of "
        f"{state['EventsTotal']} event(s) replayed. {state.get('StateReason') or ''}".rstrip()
    )
    if state["State"] == "FAILED":
        raise click.ClickException(f"replay {name} failed: {state['StateReason']}")


@replay.command("list")
@url_option
def replay_list(url: str, token: str | None) -> None:
    """List replays and their progress."""
    replays = call(url, "GET", "/replays")["Replays"]
    table = Table(title=f"{len(replays)} replay(s)")
    for column in ("name", "state", "window", "rules", "replayed"):
        table.add_column(column)
    for r in replays:
        table.add_row(
            r["ReplayName"],
            r["State"],
            f"{_when(r['EventStartTime'])} → {_when(r['EventEndTime'])}",
            ", ".join(r["Rules"] or ["all"]),
            f"{r['EventsReplayed']}/{r['EventsTotal']}",
        )
    Console().print(table)


@replay.command("cancel")
@click.argument("name")
@url_option
def replay_cancel(name: str, url: str, token: str | None) -> None:
    """Cancel a running replay."""
    state = call(url, "POST", f"/replays/{name}/cancel")
    click.echo(f"Replay {name}: {state['State']}")


@click.group()
@group_options
def faults() -> None:
    """Inject faults into a running server (functions failing or timing out, pushes gone)."""


@faults.command("show")
@url_option
def faults_show(url: str, token: str | None) -> None:
    """Show the current fault plan."""
    click.echo(json.dumps(call(url, "GET", "/faults"), indent=2))


@faults.command("set")
@click.argument("function", required=False)
@click.option("--error-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--timeout-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--gone-rate", type=click.FloatRange(0, 1), default=None, help="Pushes that get 410.")
@url_option
def faults_set(
    function: str | None,
    error_rate: float,
    timeout_rate: float,
    gone_rate: float | None,
    url: str,
    token: str | None,
) -> None:
    """Make FUNCTION fail (--error-rate) or time out (--timeout-rate) on a fraction of calls,
    or (--gone-rate) make pushes to sockets fail with 410 GoneException."""
    if function is None and gone_rate is None:
        raise click.UsageError(
            "name the function to make fail, e.g. `pizzabus faults set cook_pizza "
            "--error-rate 0.5`, or give --gone-rate for pushes to sockets"
        )
    plan = call(url, "GET", "/faults")
    if function:
        plan["functions"][function] = {"error_rate": error_rate, "timeout_rate": timeout_rate}
    if gone_rate is not None:
        plan["gone_rate"] = gone_rate
    click.echo(json.dumps(call(url, "PUT", "/faults", plan), indent=2))


@faults.command("clear")
@url_option
def faults_clear(url: str, token: str | None) -> None:
    """Remove every injected fault."""
    call(url, "PUT", "/faults", {"functions": {}, "gone_rate": 0})
    click.echo("No faults are injected.")
