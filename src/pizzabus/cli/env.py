"""``pizzabus env``: the shell lines that point the AWS CLI and every SDK at a local server.

``eval "$(pizzabus env)"`` sets ``AWS_ENDPOINT_URL`` (one endpoint serves DynamoDB, EventBridge,
Lambda and SQS), and the server's local credentials: access key id ``pizzabus``, the admin
token as secret key (read from the server's record on this machine, as the other commands read
it; ``--token`` or ``PIZZABUS_ADMIN_TOKEN`` otherwise).
"""

from __future__ import annotations

import shlex

import click

from pizzabus.access import ACCESS_KEY_ID, ADMIN_TOKEN_ENV, URL_ENV, client_token, find_server
from pizzabus.errors import PizzabusError
from pizzabus.functions.runtime import RuntimeIdentity


@click.command("env")
@click.option(
    "--url",
    default=None,
    envvar=URL_ENV,
    help="The running pizzabus server (default: the one running on this machine).",
)
@click.option(
    "--token",
    default=None,
    help=f"The server's admin token (default: {ADMIN_TOKEN_ENV}, else read from the record "
    "of the server on this machine).",
)
@click.option(
    "--region",
    default=RuntimeIdentity().region,
    show_default=True,
    help="The region the SDKs sign for (the local server accepts any).",
)
def env(url: str | None, token: str | None, region: str) -> None:
    """Print the `export` lines that configure the AWS CLI and SDKs for a local server:
    eval "$(pizzabus env)"."""
    try:
        server = find_server(url)
        secret = client_token(url, token)
    except PizzabusError as error:
        raise click.ClickException(error.message) from error
    if url is None and server is None:
        raise click.ClickException(
            "no pizzabus server runs on this machine: start one with `pizzabus serve`, or "
            "name a server with --url (and --token)"
        )
    if not secret:
        raise click.ClickException(
            f"no admin token found for {url}: it is not a server of this machine; pass "
            f"--token or set {ADMIN_TOKEN_ENV} to that server's admin token"
        )
    endpoint = server.url if server is not None and url is None else str(url)
    variables = {
        "AWS_ENDPOINT_URL": endpoint.rstrip("/"),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
    click.echo(" ".join(["export", *(f"{k}={shlex.quote(v)}" for k, v in variables.items())]))
