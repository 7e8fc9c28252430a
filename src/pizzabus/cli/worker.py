"""``pizzabus worker``: the functions of a distributed system, in N supervised processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys

import click

from pizzabus.cli.native_memory import tune_process_memory
from pizzabus.cli.runtime_options import environment_idle_ttl_option, replicas_option, system_option
from pizzabus.cli.serve import load_definition
from pizzabus.cli.watching import metrics_port_option, no_traces_option, quiet_option
from pizzabus.errors import PizzabusError
from pizzabus.functions.labels import label_output


@click.command()
@click.option("--nats", "nats_url", required=True, envvar="PIZZABUS_NATS", help="NATS URL(s).")
@click.option(
    "--tables",
    "tables_url",
    required=True,
    envvar="PIZZABUS_TABLES",
    help="The shared tables: postgresql://… (or sqlite:///PATH on one machine).",
)
@click.option(
    "--processes",
    type=click.IntRange(1),
    default=None,
    help="Worker processes to run and restart when they die (default: the number of cores).",
)
@click.option(
    "--base-url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="The gateways' public URL (what APIGW_ENDPOINT names).",
)
@replicas_option()
@system_option()
@quiet_option
@no_traces_option
@click.option(
    "--reload/--no-reload",
    default=False,
    show_default=True,
    help="Reload a function's code in every worker process when a file in its code folder "
    "is saved (for development).",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Interface each worker process serves /metrics on.",
)
@metrics_port_option
@environment_idle_ttl_option
@click.option("--slot", type=int, default=None, hidden=True)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def worker(
    nats_url: str,
    tables_url: str,
    processes: int | None,
    base_url: str,
    replicas: int,
    system_ref: str,
    quiet: bool,
    no_traces: bool,
    reload: bool,
    metrics_host: str,
    metrics_port: int,
    environment_idle_ttl: float,
    slot: int | None,
    log_level: str,
) -> None:
    """Run the system's handlers: take their deliveries from NATS JetStream, in supervised
    processes. Gateways (`pizzabus serve --nats`) take the requests; `pizzabus cluster` runs
    both on one machine."""
    if slot is not None:
        # N processes share one terminal: each line says which one wrote it.
        label_output(f"[worker {slot}] ")
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    definition = load_definition(system_ref)
    if slot is None:
        from pizzabus.distributed.supervisor import Supervisor

        count = processes or os.cpu_count() or 1
        command = [sys.executable, "-m", "pizzabus", "worker", "--nats", nats_url]
        command += ["--tables", tables_url, "--base-url", base_url, "--replicas", str(replicas)]
        command += ["--system", system_ref, "--log-level", log_level]
        command += ["--metrics-host", metrics_host, "--metrics-port", str(metrics_port)]
        command += [
            flag
            for flag, given in (
                ("--quiet", quiet),
                ("--no-traces", no_traces),
                ("--reload", reload),
            )
            if given
        ]
        command += ["--environment-idle-ttl", str(environment_idle_ttl)]
        click.echo(f"pizzabus worker: {count} process(es) on {nats_url}, tables {tables_url}")
        sys.stdout.flush()
        raise SystemExit(Supervisor(command, count, on_event=click.echo).run())
    from pizzabus.distributed.worker import Worker, WorkerSettings

    # In the worker process that hosts the environments, before its threads start.
    tune_process_memory()

    settings = WorkerSettings(
        nats_url=nats_url,
        tables_url=tables_url,
        base_url=base_url,
        replicas=replicas,
        invocation_logs=not quiet,
        tracing=not no_traces,
        reload=reload,
        metrics_host=metrics_host,
        metrics_port=metrics_port + slot if metrics_port else 0,
        node=f"worker-{slot}-{os.getpid()}",
        environment_idle_ttl=environment_idle_ttl,
    )
    try:
        asyncio.run(_serve(Worker(definition, settings), slot))
    except PizzabusError as error:
        raise click.ClickException(error.message) from error


async def _serve(node: object, slot: int) -> None:
    from pizzabus.distributed.worker import Worker

    assert isinstance(node, Worker)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await node.start()
    metrics = f", /metrics on http://{node.metrics_url}/metrics" if node.metrics_url else ""
    reloading = ", reloading saved code" if node.watcher is not None else ""
    click.echo(f"worker process {slot} (pid {os.getpid()}) ready{metrics}{reloading}")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await node.stop()
