"""The ``pizzabus`` command group, with subcommands loaded on first use."""

from __future__ import annotations

import importlib

import click

#: Subcommand name → "module:attribute" of its click command.
COMMANDS: dict[str, str] = {
    "serve": "pizzabus.cli.serve:serve",
    "worker": "pizzabus.cli.worker:worker",
    "cluster": "pizzabus.cli.cluster:cluster",
    "order": "pizzabus.cli.order:order",
    "test-event-pattern": "pizzabus.cli.test_event_pattern:test_event_pattern",
    "dlq": "pizzabus.cli.admin:dlq",
    "retries": "pizzabus.cli.retries:retries",
    "replay": "pizzabus.cli.admin:replay",
    "faults": "pizzabus.cli.admin:faults",
    "trace": "pizzabus.cli.trace:trace",
    "synth": "pizzabus.cli.deploy:synth",
    "deploy": "pizzabus.cli.deploy:deploy",
    "destroy": "pizzabus.cli.deploy:destroy",
    "env": "pizzabus.cli.env:env",
}

HELP = {
    "serve": "Serve the whole system (web client, HTTP API, WebSocket API).",
    "worker": "Run the functions of a distributed system (NATS JetStream), supervised.",
    "cluster": "Run the distributed system on this machine: nats-server, gateways, workers.",
    "order": "Place pizza orders and follow each one live until delivered.",
    "test-event-pattern": "Test an event against an EventBridge pattern (like the AWS CLI).",
    "dlq": "List, show, redrive or purge dead letters.",
    "retries": "List or cancel deliveries waiting for a retry.",
    "replay": "Replay archived events of a time window (with progress).",
    "faults": "Inject faults: functions failing or timing out, pushes answered 410.",
    "trace": "Show an order's journey: events, rule matches, invocations, pushes.",
    "synth": "Write the CloudFormation templates of the AWS stack (offline).",
    "deploy": "Deploy the system to AWS with the CDK.",
    "destroy": "Remove the deployed system from AWS.",
    "env": "Print the exports that point the AWS CLI and SDKs at the local server.",
}


class LazyGroup(click.Group):
    """A group whose commands are imported when invoked, not when the CLI starts."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, HELP[name]) for name in sorted(COMMANDS)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pizzabus")
def cli() -> None:
    """pizzabus: the AWS pizza lab's event-driven system, on one machine or on AWS."""


def main() -> None:
    """Console-script entry point."""
    cli()
