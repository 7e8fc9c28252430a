"""The options that say how a running system is watched, shared by ``serve``, ``cluster`` and
``worker`` so each means the same everywhere."""

from __future__ import annotations

import click

quiet_option = click.option(
    "--quiet",
    is_flag=True,
    help="No START / END / REPORT lines per invocation (handler output still shows).",
)

no_traces_option = click.option(
    "--no-traces",
    is_flag=True,
    help="Keep no journey traces (/_pizzabus/traces, pizzabus trace); metrics stay.",
)

metrics_port_option = click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port of worker process 0's /metrics; process N takes the port plus N (0: free "
    "ports). Every gateway lists them all at /_pizzabus/metrics/targets (Prometheus http_sd).",
)
