"""``pizzabus cluster``: the whole distributed system on this machine, with one command.

It starts a private nats-server with JetStream (a temp store, or ``--data-dir``), uses
``--tables`` or else a throwaway database, then the gateways and a worker supervisor, prints
the URLs, and stops everything on Ctrl+C.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import click

from pizzabus.cli.runtime_options import system_option
from pizzabus.cli.serve import load_definition
from pizzabus.cli.watching import metrics_port_option, no_traces_option, quiet_option
from pizzabus.devservers.nats import die_with_parent
from pizzabus.errors import PizzabusError

ANNOUNCE = re.compile(r"pizzabus serving \S+ on (http://\S+)")
CONSOLE = re.compile(r"^\s+console\s+(http://\S+)")
WORKER_READY = re.compile(r"worker process \d+ \(pid \d+\) ready")


@contextlib.contextmanager
def throwaway_tables(data_dir: Path) -> Iterator[str]:
    """A throwaway PostgreSQL when PostgreSQL tables are installed (``pizzabus[postgres]``);
    otherwise an SQLite file in ``data_dir``, which the processes of one machine share. Its
    data dies with it, so it runs without durability (``THROWAWAY_SETTINGS``)."""
    try:
        importlib.import_module("pizzabus.tables.postgres")
        from pizzabus.devservers.postgres import THROWAWAY_SETTINGS, start_postgres
    except ImportError:
        yield f"sqlite:///{data_dir / 'tables.sqlite3'}"
        return
    server = start_postgres(settings=THROWAWAY_SETTINGS)
    try:
        yield server.dsn
    finally:
        server.close()


class _Child:
    def __init__(self, name: str, command: list[str], *, echo: bool = False) -> None:
        """``echo``: pass every line through (the workers' invocation logs and handler output,
        each labelled with its process); otherwise only errors."""
        self.name = name
        self.echo = echo
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=die_with_parent,  # noqa: PLW1509 - only prctl, before exec
        )
        self.url: str | None = None
        #: A gateway's console URL, with its admin token (as the gateway printed it).
        self.console: str | None = None
        self.ready = threading.Event()
        #: Worker processes that said they are ready.
        self.workers_ready = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            match = ANNOUNCE.search(line)
            if match and self.url is None:
                self.url = match.group(1)
                self.ready.set()
            elif (console := CONSOLE.search(line)) and self.console is None:
                self.console = console.group(1)
            elif WORKER_READY.search(line):
                self.workers_ready += 1
                self.ready.set()
            if self.echo:
                sys.stdout.write(line)
                sys.stdout.flush()
            elif "ERROR" in line or "Error" in line or "exited" in line:
                sys.stderr.write(f"[{self.name}] {line}")
        self.ready.set()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _announce(children: list[_Child], workers: int) -> None:
    for child in children:
        if child.url:
            click.echo(
                f"gateway        {child.url}/   (ws: {child.url.replace('http', 'ws', 1)}/ws)"
            )
    click.echo(f"workers        {workers} process(es), supervised")
    first = children[0].url
    if children[0].console:
        click.echo(f"console        {children[0].console}")
    click.echo(
        f"metrics        {first}/_pizzabus/metrics/targets (Prometheus http_sd; admin token)"
    )
    click.echo(f"traces         pizzabus trace ORDER_ID --url {first}")
    click.echo("Press Ctrl+C to stop everything.")


@click.command()
@click.option(
    "--gateways",
    type=click.IntRange(1, 16),
    default=1,
    show_default=True,
    help="Gateway processes: the HTTP and WebSocket APIs, the console, the admin API.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Worker processes, which run the handlers (one that dies is restarted).",
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface the gateways listen on."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    envvar="PORT",
    default=8000,
    show_default=True,
    help="The first gateway's port; the others take the next ones (0: free ports).",
)
@click.option(
    "--tables",
    "tables_url",
    default=None,
    help="Shared tables (postgresql://…); default: a throwaway PostgreSQL (an SQLite file "
    "without pizzabus[postgres]), gone at exit.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where nats-server stores its streams (default: a temp directory, removed at exit).",
)
@system_option()
@quiet_option
@no_traces_option
@click.option(
    "--reload/--no-reload",
    default=True,
    show_default=True,
    help="Reload a function's code in every worker process when a file in its code folder "
    "is saved.",
)
@metrics_port_option
def cluster(
    gateways: int,
    workers: int,
    host: str,
    port: int,
    tables_url: str | None,
    data_dir: Path | None,
    system_ref: str,
    quiet: bool,
    no_traces: bool,
    reload: bool,
    metrics_port: int,
) -> None:
    """Run the distributed system on this machine: a private nats-server, the gateways and
    the worker processes. Prints where to reach them; Ctrl+C stops everything.

    On several machines, run `pizzabus serve --nats …` (gateways) and `pizzabus worker`
    yourself."""
    load_definition(system_ref)  # a bad --system is said now, not by every child
    from pizzabus.devservers.nats import start_nats

    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pizzabus-")))
        try:
            nats = start_nats(store_dir=data_dir / "nats" if data_dir else None)
        except PizzabusError as error:
            raise click.ClickException(error.message) from error
        stack.callback(nats.stop)
        click.echo(f"nats-server    {nats.url} (JetStream, {data_dir or 'temp store'})")
        tables = tables_url or stack.enter_context(throwaway_tables(scratch))
        click.echo(f"tables         {tables}")
        children: list[_Child] = []

        def stop_children() -> None:
            for child in reversed(children):
                child.stop()

        stack.callback(stop_children)
        base = [sys.executable, "-m", "pizzabus"]
        observing = [f for f, given in (("--quiet", quiet), ("--no-traces", no_traces)) if given]
        for index in range(gateways):
            gateway_port = port + index if port else 0
            children.append(
                _Child(
                    f"gateway {index + 1}",
                    [
                        *base,
                        *("serve", "--host", host, "--port", str(gateway_port), "--memory"),
                        *("--nats", nats.url, "--tables", tables, "--system", system_ref),
                        *observing,
                    ],
                )
            )
        for child in children:
            child.ready.wait(30)
            if child.url is None:
                raise click.ClickException(f"{child.name} did not start (see above)")
        base_url = children[0].url or f"http://{host}:{port}"
        children.append(
            _Child(
                "workers",
                [
                    *base,
                    *("worker", "--nats", nats.url, "--tables", tables),
                    *("--processes", str(workers), "--base-url", base_url),
                    *("--system", system_ref, "--metrics-port", str(metrics_port)),
                    *observing,
                    "--reload" if reload else "--no-reload",
                ],
                echo=True,
            )
        )
        workers_child = children[-1]
        deadline = time.monotonic() + 60
        while workers_child.workers_ready < workers and time.monotonic() < deadline:
            if workers_child.process.poll() is not None or stopping.is_set():
                break
            time.sleep(0.1)
        if workers_child.workers_ready < workers:
            raise click.ClickException("the workers did not start (see above)")
        _announce(children, workers)
        sys.stdout.flush()
        while not stopping.is_set():
            if any(c.process.poll() is not None for c in children):
                raise click.ClickException("a process of the cluster stopped; stopping the rest")
            time.sleep(0.2)
        click.echo("stopping…")
