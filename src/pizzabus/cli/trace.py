"""``pizzabus trace ORDER_OR_TRACE_ID``: an event's whole journey, in the terminal.

Given a trace id (``1-…``) it shows that trace; given anything else (an order id) it finds the
traces whose events' detail contains it and merges them. The journey is drawn as a tree
(request → event → rule match → invocation → …) with a waterfall bar per span.
"""

from __future__ import annotations

import json
import re
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pizzabus.cli.admin import call, url_option

TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")

_STYLE = {
    "request": "bold cyan",
    "event": "magenta",
    "match": "blue",
    "invocation": "green",
    "push": "yellow",
    "retry": "bold yellow",
    "dead_letter": "bold red",
}
BAR_WIDTH = 30


def journey(url: str, reference: str) -> dict[str, Any]:
    """The trace ``reference`` names, or all traces of the order it names, merged."""
    if TRACE_ID.match(reference):
        document: dict[str, Any] = call(url, "GET", f"/traces/{reference}")
        for span in document["spans"]:
            span["trace_id"] = document["trace_id"]
        return {"query": reference, "trace_ids": [document["trace_id"]], **document}
    found = call(url, "GET", f"/traces?q={_quote(reference)}&limit=100")["traces"]
    if not found:
        raise click.ClickException(
            f"No trace has an event whose detail contains {reference!r}. Traces are kept for "
            "the most recent journeys only; check the id, or list recent ones at "
            "/_pizzabus/traces."
        )
    spans = [
        {**span, "trace_id": document["trace_id"]}
        for document in found
        for span in document["spans"]
    ]
    spans.sort(key=lambda s: s["start"])
    ids = [d["trace_id"] for d in found]
    return {"query": reference, "trace_ids": ids, "trace_id": ids[0], "spans": spans}


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def render(document: dict[str, Any], console: Console) -> None:
    """The journey as a tree (indented names) beside a waterfall: each span's offset from the
    first, its duration, and a bar placed on the journey's time line."""
    spans = document["spans"]
    start = min(s["start"] for s in spans)
    end = max(s["start"] + s["duration_ms"] / 1000 for s in spans)
    total = max(end - start, 1e-6)
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        parent = span.get("parent") if span.get("parent") in ids else None
        children.setdefault(parent, []).append(span)
    counts = {k: sum(1 for s in spans if s["kind"] == k) for k in _STYLE}
    summary = ", ".join(_plural(n, k) for k, n in counts.items() if n)
    table = Table(
        title=f"journey {document['query']}: {_plural(len(document['trace_ids']), 'trace')}, "
        f"{summary}, {total * 1000:.1f} ms",
        title_justify="left",
        box=None,
        pad_edge=False,
    )
    table.add_column("span", no_wrap=True, overflow="ellipsis")
    table.add_column("at", justify="right", no_wrap=True)
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("waterfall", no_wrap=True)
    table.add_column("detail", no_wrap=True, overflow="ellipsis")

    def add(span: dict[str, Any], depth: int) -> None:
        offset = span["start"] - start
        lead = min(BAR_WIDTH - 1, int(offset / total * BAR_WIDTH))
        width = max(1, round(span["duration_ms"] / 1000 / total * BAR_WIDTH))
        bar = " " * lead + "█" * min(width, BAR_WIDTH - lead)
        style = _STYLE.get(span["kind"], "")
        outcome = span.get("outcome", "ok")
        table.add_row(
            Text.assemble(("  " * depth), (f"{span['kind']} ", style), (span["name"], "bold")),
            f"+{offset * 1000:.1f} ms",
            f"{span['duration_ms']:.2f} ms" if span["duration_ms"] else "",
            Text(f"{bar:<{BAR_WIDTH}}", style=style),
            Text.assemble(("" if outcome == "ok" else f"{outcome} ", "bold red"), _detail(span)),
        )
        for child in children.get(span["span_id"], []):
            add(child, depth + 1)

    for span in children.get(None, []):
        add(span, 0)
    console.print(table)


def _plural(count: int, kind: str) -> str:
    word = kind.replace("_", " ")
    if count != 1:
        word += "es" if word.endswith(("ch", "sh")) else "s"
    return f"{count} {word}"


def _detail(span: dict[str, Any]) -> str:
    kind = span["kind"]
    if kind == "event":
        detail = span.get("detail", "")
        return f"{span.get('source')} on {span.get('bus')}: {detail[:80]}"
    if kind == "invocation":
        error = f"  {span.get('error_type')}: {span.get('error')}" if span.get("error") else ""
        cold = f"  cold start {span['init_ms']:.1f} ms" if span.get("init_ms") else ""
        return f"{span.get('request_id', '')[:8]}{cold}{error}"
    if kind == "push":
        return f"{span.get('bytes')} bytes"
    if kind == "retry":
        return f"attempt {span.get('attempt')} failed: {span.get('error', '')}"
    if kind == "dead_letter":
        return f"after {span.get('attempts')} attempts: {span.get('error', '')}"
    if kind == "request":
        return f"HTTP {span.get('status')}"
    return ""


@click.command()
@click.argument("reference", metavar="ORDER_OR_TRACE_ID")
@url_option
@click.option("--json", "as_json", is_flag=True, help="Print the spans as JSON.")
def trace(reference: str, url: str, token: str | None, as_json: bool) -> None:
    """Show the journey of an order (or one trace): requests, events, rule matches,
    invocations, pushes, retries and dead letters."""
    document = journey(url, reference)
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    render(document, Console(highlight=False))
