"""Run the AWS CDK CLI (npm ``aws-cdk``, through ``npx``) with progress and clear errors.

The CLI runs this package's CDK app (``<python> -m pizzabus.aws.app``), so no ``cdk.json`` is
needed. Its output streams into a ``rich`` status line and a log file; when it fails, known
failures (no credentials, region not bootstrapped, expired tokens) become one message saying
what to run, and anything else shows the last lines of the log.

This module does not import the CDK: deploying needs Node.js, not the Python CDK in this process.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from pizzabus.aws.errors import DeployError

#: The CDK CLI, pinned to major version 2 (the one aws-cdk-lib 2 needs).
CDK_PACKAGE = "aws-cdk@2"
#: How many log lines a failure we do not recognise shows.
TAIL_LINES = 25

_ENV_NAME = re.compile(r"aws://(\d{12}|unknown-account)/([a-z0-9-]+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class AwsTarget:
    """The account and region a deploy goes to, as the credentials resolve them."""

    account: str
    region: str

    @property
    def name(self) -> str:
        return f"aws://{self.account}/{self.region}"


@dataclass(frozen=True)
class KnownFailure:
    """A failure of the CDK CLI recognised in its output, and what to tell the user."""

    pattern: re.Pattern[str]
    explain: Callable[[str, AwsTarget | None], str]


def _bootstrap(output: str, target: AwsTarget | None) -> str:
    match = _ENV_NAME.search(output)
    env = target.name if target else "aws://ACCOUNT/REGION"
    if match and match[1] != "unknown-account":
        env = match[0]
    known = env != "aws://ACCOUNT/REGION"
    where = f"The AWS environment {env}" if known else "This AWS account and region"
    return (
        f"{where} is not bootstrapped for the CDK (it has no bucket for the Lambda code). "
        f"Bootstrap it once per account and region, then deploy again:\n"
        f"  npx {CDK_PACKAGE} bootstrap {env}"
    )


#: How to give pizzabus (and the CDK CLI) AWS credentials.
CONFIGURE_CREDENTIALS = (
    "Configure them with `aws configure` (or `aws sso login` for IAM Identity Center), or "
    "choose a configured profile with --profile NAME or AWS_PROFILE=NAME, then run the command "
    "again."
)


def _no_credentials(_output: str, _target: AwsTarget | None) -> str:
    return (
        "The CDK CLI found no usable AWS credentials (none are configured, or AWS STS could not "
        f"be reached to check them). {CONFIGURE_CREDENTIALS}"
    )


def _expired(_output: str = "", _target: AwsTarget | None = None) -> str:
    return (
        "The AWS credentials were refused (invalid or expired). Refresh them (`aws sso login`, "
        "or new keys with `aws configure`) and run the command again."
    )


KNOWN_FAILURES: tuple[KnownFailure, ...] = (
    KnownFailure(
        re.compile(
            r"toolkit stack must be deployed|Has the environment been bootstrapped|"
            r"Is (this )?account \S* ?bootstrapped|cdk bootstrap",
            re.IGNORECASE,
        ),
        _bootstrap,
    ),
    KnownFailure(
        re.compile(
            r"Unable to resolve AWS account to use|no credentials have been configured|"
            r"Could not load credentials from any providers",
            re.IGNORECASE,
        ),
        _no_credentials,
    ),
    KnownFailure(
        re.compile(
            r"security token included in the request is invalid|ExpiredToken|"
            r"Token has expired|SSO session .* (has )?expired|InvalidClientTokenId",
            re.IGNORECASE,
        ),
        _expired,
    ),
)


def explain_failure(output: str, target: AwsTarget | None = None) -> str | None:
    """What to tell the user about a failed CDK CLI run, if its output shows a known cause."""
    text = _ANSI.sub("", output)
    for failure in KNOWN_FAILURES:
        if failure.pattern.search(text):
            return failure.explain(text, target)
    return None


def resolve_target(*, profile: str | None, region: str | None) -> AwsTarget:
    """Check the credentials before starting Node: find them, and ask STS whose they are.

    Raises :class:`DeployError` saying what to configure when there are none or AWS refuses
    them, so the user is not left reading the CDK CLI's own output for it."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound as err:
        raise DeployError(
            f"{err}. List your profiles with `aws configure list-profiles`, or create one with "
            f"`aws configure --profile {profile}`."
        ) from err
    if session.region_name is None:
        raise DeployError(
            "No AWS region is set. Pass --region (e.g. --region eu-west-1), set AWS_REGION, or "
            "set a default with `aws configure`."
        )
    try:
        if session.get_credentials() is None:
            raise DeployError(f"No AWS credentials were found. {CONFIGURE_CREDENTIALS}")
        config = Config(connect_timeout=10, read_timeout=20, retries={"max_attempts": 2})
        identity = session.client("sts", config=config).get_caller_identity()
    except ClientError as err:
        raise DeployError(_expired()) from err
    except BotoCoreError as err:
        raise DeployError(
            f"Could not check the AWS credentials with STS in {session.region_name}: {err}. "
            f"Check the network connection and the region. {CONFIGURE_CREDENTIALS}"
        ) from err
    return AwsTarget(account=str(identity["Account"]), region=session.region_name)


def find_npx() -> str:
    """The ``npx`` executable, or a :class:`DeployError` saying how to get it."""
    npx = shutil.which("npx")
    if npx is None:
        raise DeployError(
            "npx was not found: deploying runs the AWS CDK CLI, which needs Node.js. Install "
            "Node.js 20 or later (https://nodejs.org, or your package manager), which provides "
            "npx, then run the command again."
        )
    return npx


@dataclass(frozen=True)
class CdkRun:
    """One run of the CDK CLI: its arguments, environment and where its log goes."""

    action: str
    args: Sequence[str]
    outdir: Path
    profile: str | None = None
    region: str | None = None
    context: dict[str, str] = field(default_factory=dict)
    target: AwsTarget | None = None

    @property
    def log_path(self) -> Path:
        return self.outdir / f"pizzabus-{self.action}.log"

    def command(self, npx: str) -> list[str]:
        app = f"{shlex.quote(sys.executable)} -m pizzabus.aws.app"
        command = [npx, "--yes", CDK_PACKAGE, self.action, "--app", app]
        command += ["--output", str(self.outdir), "--no-notices", "--progress", "events"]
        if self.profile:
            command += ["--profile", self.profile]
        for key, value in self.context.items():
            command += ["--context", f"{key}={value}"]
        return [*command, *self.args]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # The app runs in a child process; keep this package importable there.
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        env.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
        if self.profile:
            env["AWS_PROFILE"] = self.profile
        region = self.target.region if self.target else self.region
        if region:
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = region
        return env


def run_cdk(run: CdkRun, *, console: Console, npx: str | None = None) -> str:
    """Run the CDK CLI, showing its latest line as progress; return its whole output.

    Raises :class:`DeployError` with an explanation (or the log's last lines) when it fails."""
    npx = npx or find_npx()
    run.outdir.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    title = f"cdk {run.action}"
    with (
        run.log_path.open("w", encoding="utf-8") as log,
        console.status(f"{title}: starting (the first run downloads the CDK CLI)…") as status,
        _start(run, npx) as process,
    ):
        for raw in process.stdout or ():
            log.write(raw)
            line = _ANSI.sub("", raw).rstrip()
            lines.append(line)
            if _is_milestone(line):
                console.print(escape(line), highlight=False)
            if line.strip():
                status.update(f"{title}: {escape(line.strip()[:110])}")
        code = process.wait()
    output = "\n".join(lines)
    if code != 0:
        raise DeployError(_failure_message(run, output, code))
    return output


def _start(run: CdkRun, npx: str) -> subprocess.Popen[str]:
    try:
        return subprocess.Popen(
            run.command(npx),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=run.environment(),
        )
    except OSError as err:
        raise DeployError(f"could not start {npx}: {err}. Is Node.js installed?") from err


def _is_milestone(line: str) -> bool:
    markers = ("✨", "✅", "❌", "Outputs:", "Stack ARN:", "destroyed", "Deployment time")
    return any(marker in line for marker in markers) or bool(re.match(r"^\S+\.\w+ = ", line))


def _failure_message(run: CdkRun, output: str, code: int) -> str:
    explained = explain_failure(output, run.target)
    if explained:
        return f"{explained}\n(full CDK output: {run.log_path})"
    tail = "\n".join(line for line in output.splitlines()[-TAIL_LINES:] if line.strip())
    return (
        f"cdk {run.action} failed (exit code {code}). Its last lines:\n{tail}\n"
        f"(full CDK output: {run.log_path})"
    )
