"""``pizzabus synth``, ``deploy`` and ``destroy``: the system on AWS, through the CDK.

``synth`` runs in this process and needs no AWS account; ``deploy`` and ``destroy`` check the
credentials, then run the AWS CDK CLI with ``npx`` (see ``pizzabus.aws.cdk_cli``). Errors are
one message on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from pizzabus.errors import PizzabusError
from pizzabus.system.loading import DEFAULT_SYSTEM, load_definition

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_OUT = "cdk.out"
STACK_OUTPUTS = (
    ("HttpApiUrl", "HTTP API"),
    ("WebSocketUrl", "WebSocket API"),
    ("WebClientUrl", "Web client"),
)

console = Console()
err_console = Console(stderr=True)


def _friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn pizzabus errors into a message on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except PizzabusError as err:
            err_console.print(
                f"[bold red]Error:[/] {escape(err.message)}", highlight=False, soft_wrap=True
            )
            raise SystemExit(1) from None

    return wrapper


_out_option = click.option(
    "--out",
    "out",
    default=DEFAULT_OUT,
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of the cloud assembly (templates, Lambda code assets).",
)
_system_option = click.option(
    "--system",
    "system_ref",
    default=DEFAULT_SYSTEM,
    show_default=True,
    help="The system definition, as module:attribute, imported from the current directory.",
)
_client_url_option = click.option(
    "--client-url",
    default=None,
    help="Where the web client runs, for the WebClientUrl output [default: http://127.0.0.1:8000/].",
)


@click.command()
@_system_option
@_out_option
@_client_url_option
@_friendly_errors
def synth(system_ref: str, out: Path, client_url: str | None) -> None:
    """Write the CloudFormation templates of the AWS stack (offline, no AWS account needed)."""
    definition = load_definition(system_ref)
    from pizzabus.aws.app import synthesize  # imports the CDK: keep `pizzabus --help` fast

    with console.status(f"Synthesizing the AWS stack of {definition.name}…"):
        try:
            result = synthesize(definition, outdir=out, client_url=client_url)
        except PizzabusError:
            raise
        except Exception as err:  # jsii surfaces CDK validation errors as plain exceptions
            raise PizzabusError(f"synthesis failed: {err}") from err
    for template in result.templates:
        console.print(f"[green]✓[/] {escape(str(template))}", highlight=False)
    for difference in result.differences:
        console.print(
            f"[yellow]note[/] {escape(difference.what)}: {escape(difference.why)}",
            highlight=False,
        )


@click.command()
@click.option("--region", default=None, help="AWS region [default: from the profile/AWS_REGION].")
@click.option("--profile", default=None, help="AWS named profile [default: AWS_PROFILE/default].")
@_system_option
@_out_option
@_client_url_option
@_friendly_errors
def deploy(
    region: str | None, profile: str | None, system_ref: str, out: Path, client_url: str | None
) -> None:
    """Deploy the system to AWS with the CDK (needs Node.js for npx, and AWS credentials)."""
    from pizzabus.aws.cdk_cli import CdkRun, find_npx, resolve_target, run_cdk

    load_definition(system_ref)  # a bad --system is said here, not deep in the CDK's log
    npx = find_npx()
    with console.status("Checking the AWS credentials…"):
        target = resolve_target(profile=profile, region=region)
    console.print(f"Deploying to [bold]{target.name}[/]", highlight=False)
    outputs_file = out / "outputs.json"
    run = CdkRun(
        action="deploy",
        args=["--all", "--require-approval", "never", "--outputs-file", str(outputs_file)],
        outdir=out,
        profile=profile,
        target=target,
        context={
            "pizzabus:system": system_ref,
            "pizzabus:app_dir": str(Path.cwd()),
            **({"pizzabus:client_url": client_url} if client_url else {}),
        },
    )
    run_cdk(run, console=console, npx=npx)
    _print_outputs(outputs_file)


@click.command()
@click.option("--region", default=None, help="AWS region [default: from the profile/AWS_REGION].")
@click.option("--profile", default=None, help="AWS named profile [default: AWS_PROFILE/default].")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_out_option
@_friendly_errors
def destroy(region: str | None, profile: str | None, yes: bool, out: Path) -> None:
    """Remove the deployed system (stack, tables and their data, queues, logs) from AWS."""
    from pizzabus.aws.cdk_cli import CdkRun, find_npx, resolve_target, run_cdk

    npx = find_npx()
    with console.status("Checking the AWS credentials…"):
        target = resolve_target(profile=profile, region=region)
    if not yes:
        click.confirm(f"Delete the pizzabus stack and all its data from {target.name}?", abort=True)
    run = CdkRun(
        action="destroy", args=["--all", "--force"], outdir=out, profile=profile, target=target
    )
    run_cdk(run, console=console, npx=npx)
    console.print(f"[green]✓[/] The stack is gone from {target.name}.", highlight=False)


def _print_outputs(outputs_file: Path) -> None:
    try:
        stacks: dict[str, dict[str, Any]] = json.loads(outputs_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # the CDK printed them already
    for outputs in stacks.values():
        for key, label in STACK_OUTPUTS:
            if key in outputs:
                console.print(f"{label:>14}: {escape(str(outputs[key]))}", highlight=False)
