"""Which running server a client command (``order``, ``dlq``, ``replay``, ``faults``…) talks to.

In order: ``--url`` on the subcommand, ``--url`` on its group (``pizzabus dlq --url X list``),
the ``PIZZABUS_URL`` environment variable, the one server running on this machine (from the
runtime record ``pizzabus serve`` writes), ``http://127.0.0.1:$PORT`` when ``PORT`` is set (as
``serve`` reads it), and last ``http://127.0.0.1:8000``. A URL without a
scheme (``127.0.0.1:8000``) is taken as ``http://``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from pizzabus.access import URL_ENV, find_server
from pizzabus.errors import PizzabusError

DEFAULT_URL = "http://127.0.0.1:8000"
#: Where a group's ``--url`` waits for its subcommand (``ctx.meta`` is shared by the chain).
_META_KEY = "pizzabus.url"

F = TypeVar("F", bound=Callable[..., Any])


def normalize_url(url: str) -> str:
    """``127.0.0.1:8000`` → ``http://127.0.0.1:8000``; anything that is not an http(s) or
    ws(s) URL of a host is refused, saying what a good one looks like."""
    text = url.strip()
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https", "ws", "wss"} or not parts.hostname:
        raise click.BadParameter(
            f"{url!r} is not a server URL; give one like http://127.0.0.1:8000",
            param_hint="'--url'",
        )
    try:
        parts.port  # noqa: B018 -- raises on a port that is not a number
    except ValueError as error:
        raise click.BadParameter(f"{url!r}: {error}", param_hint="'--url'") from error
    return text


def _recorded_server_url() -> str | None:
    """The URL of the only server running on this machine, from its runtime record, or None.

    Raises a usage error naming them when several run."""
    try:
        record = find_server(None)
    except PizzabusError as error:
        raise click.UsageError(error.message) from error
    return None if record is None else record.url


def resolve_url(explicit: str | None = None, ctx: click.Context | None = None) -> str:
    """The server URL a command uses (see the module's docstring for the order)."""
    if explicit:
        return normalize_url(explicit)
    context = ctx or click.get_current_context(silent=True)
    if context is not None and context.meta.get(_META_KEY):
        return str(context.meta[_META_KEY])
    from_env = os.environ.get(URL_ENV, "").strip()
    if from_env:
        return normalize_url(from_env)
    recorded = _recorded_server_url()
    if recorded:
        return recorded
    port = os.environ.get("PORT", "").strip()
    if port.isdigit():
        return f"http://127.0.0.1:{port}"
    return DEFAULT_URL


def _remember(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value:
        ctx.meta[_META_KEY] = normalize_url(value)
    return value


_HELP = (
    f"The running pizzabus server [default: ${URL_ENV}, else the one server running on this "
    f"machine, else http://127.0.0.1:$PORT, else {DEFAULT_URL}]."
)


def group_url_option(group: F) -> F:
    """``--url`` on a group, handed to whichever subcommand runs."""
    return click.option(
        "--url", metavar="URL", default=None, expose_value=False, callback=_remember, help=_HELP
    )(group)


def url_option(command: F) -> F:
    """``--url`` on a command; the command receives the resolved URL as ``url``."""

    def resolve(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
        _remember(ctx, param, value)
        return resolve_url(value, ctx)

    return click.option("--url", metavar="URL", default=None, callback=resolve, help=_HELP)(command)
