"""The CDK app of a system, and in-process synthesis.

The AWS CDK CLI runs this module as the app (``--app "<python> -m pizzabus.aws.app"``, no
``cdk.json`` needed); ``pizzabus synth`` calls :func:`synthesize` directly, offline. The system
is ``pizzabus.pizza.system:SYSTEM`` unless the context value ``pizzabus:system`` names another
``module:attribute`` (imported from the folder ``pizzabus:app_dir``, default the current one, as
``pizzabus deploy --system`` passes them); ``pizzabus:client_url`` sets where the web client runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pizzabus.aws.specs import Difference, stack_spec
from pizzabus.system.loading import DEFAULT_SYSTEM, load_definition
from pizzabus.system.model import SystemDefinition


def quiet_jsii(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Silence jsii's Node.js version banner for the ``node`` on PATH (if any).

    The banner goes to stderr on every CDK import when Node is not in jsii's supported range;
    it is noise for ``pizzabus synth`` and the tests. An explicit setting is left alone."""
    environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
    node = shutil.which("node")
    if node and "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION" not in environ:
        try:
            version = subprocess.run(
                [node, "--version"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return
        environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = version.lstrip("v").split(".")[0]


def build_app(
    system: SystemDefinition | None = None,
    *,
    outdir: str | Path | None = None,
    client_url: str | None = None,
) -> tuple[Any, Any]:
    """The CDK app holding the system's stack; returns ``(app, stack)``."""
    quiet_jsii()
    from pizzabus.aws.stack import DEFAULT_CLIENT_URL, SystemStack, new_app  # the `aws` extra

    app = new_app(outdir=str(outdir) if outdir is not None else None)
    if system is None:
        app_dir = app.node.try_get_context("pizzabus:app_dir")
        system = load_definition(
            str(app.node.try_get_context("pizzabus:system") or DEFAULT_SYSTEM),
            app_dir=Path(app_dir) if app_dir else None,
        )
    url = client_url or app.node.try_get_context("pizzabus:client_url") or DEFAULT_CLIENT_URL
    stack = SystemStack(app, stack_spec(system), client_url=str(url))
    return app, stack


@dataclass(frozen=True)
class Synthesis:
    """What ``synthesize`` wrote: the templates, and what the AWS deploy does differently."""

    outdir: Path
    templates: tuple[Path, ...]
    differences: tuple[Difference, ...]


def synthesize(
    system: SystemDefinition | None = None,
    *,
    outdir: str | Path = "cdk.out",
    client_url: str | None = None,
) -> Synthesis:
    """Write the system's CloudFormation template(s) into ``outdir``, offline."""
    app, stack = build_app(system, outdir=outdir, client_url=client_url)
    assembly = app.synth()
    templates = tuple(Path(s.template_full_path) for s in assembly.stacks)
    return Synthesis(Path(outdir), templates, stack.spec.differences)


def main() -> None:
    """Entry point of ``python -m pizzabus.aws.app`` (what the CDK CLI runs)."""
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
