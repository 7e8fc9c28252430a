"""Running the AWS CDK CLI: progress, and failures turned into what to run.

A stand-in ``npx`` (a shell script on PATH) prints what the real CDK CLI prints, so the real
subprocess plumbing runs; no AWS account and no Node.js are needed."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from pizzabus.aws.cdk_cli import AwsTarget, CdkRun, explain_failure, find_npx, run_cdk
from pizzabus.aws.errors import DeployError
from pizzabus.cli.deploy import deploy, destroy

TARGET = AwsTarget(account="123456789012", region="eu-west-1")

# Messages as the CDK CLI (aws-cdk 2.1148) prints them.
NOT_BOOTSTRAPPED = (
    "❌ Deployment failed: Error: pizzabus-lab: This stack uses assets, so the toolkit stack "
    'must be deployed to the environment (Run "cdk bootstrap aws://123456789012/eu-west-1")'
)
SSM_NOT_FOUND = (
    "pizzabus-lab: SSM parameter /cdk-bootstrap/hnb659fds/version not found. Has the "
    "environment been bootstrapped? Please run 'cdk bootstrap' (see https://docs.aws.amazon."
    "com/cdk/latest/guide/bootstrapping.html)"
)
NO_ACCOUNT = (
    "Unable to resolve AWS account to use. It must be either configured when you define your "
    "CDK Stack, or through the environment"
)
EXPIRED = "ExpiredToken: The security token included in the request is expired"


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (NOT_BOOTSTRAPPED, "npx aws-cdk@2 bootstrap aws://123456789012/eu-west-1"),
        (SSM_NOT_FOUND, "npx aws-cdk@2 bootstrap aws://123456789012/eu-west-1"),
        (NO_ACCOUNT, "aws configure"),
        (EXPIRED, "aws sso login"),
    ],
    ids=["toolkit-stack-missing", "ssm-parameter-missing", "no-credentials", "expired-token"],
)
def test_known_failures_say_what_to_run(output: str, expected: str) -> None:
    explained = explain_failure(f"✨  Synthesis time: 2.1s\n{output}\n", TARGET)
    assert explained is not None
    assert expected in explained


def test_an_unknown_failure_is_not_explained() -> None:
    assert explain_failure("Resource handler returned message: Internal Failure") is None


def _fake_npx(directory: Path, script: str) -> str:
    npx = directory / "npx"
    npx.write_text(f"#!/bin/sh\n{script}\n")
    npx.chmod(npx.stat().st_mode | stat.S_IEXEC)
    return str(npx)


def _run(tmp_path: Path, npx: str) -> tuple[str | DeployError, str]:
    out = io.StringIO()
    console = Console(file=out, width=200)
    run = CdkRun(action="deploy", args=["--all"], outdir=tmp_path / "cdk.out", target=TARGET)
    try:
        return run_cdk(run, console=console, npx=npx), out.getvalue()
    except DeployError as err:
        return err, out.getvalue()


def test_a_failed_run_raises_the_explanation_and_keeps_the_log(tmp_path: Path) -> None:
    (tmp_path / "message").write_text(SSM_NOT_FOUND)
    npx = _fake_npx(tmp_path, f"echo synthesizing; cat {tmp_path / 'message'} >&2; exit 1")

    error, _ = _run(tmp_path, npx)

    assert isinstance(error, DeployError)
    assert "npx aws-cdk@2 bootstrap aws://123456789012/eu-west-1" in error.message
    assert SSM_NOT_FOUND in (tmp_path / "cdk.out" / "pizzabus-deploy.log").read_text()


def test_an_unknown_failure_shows_the_last_lines(tmp_path: Path) -> None:
    error, _ = _run(tmp_path, _fake_npx(tmp_path, "echo 'CREATE_FAILED something odd'; exit 3"))

    assert isinstance(error, DeployError)
    assert "exit code 3" in error.message
    assert "CREATE_FAILED something odd" in error.message


def test_a_successful_run_prints_its_milestones_and_passes_the_app(tmp_path: Path) -> None:
    npx = _fake_npx(
        tmp_path,
        'echo "args: $*"; echo "✅  pizzabus-lab"; echo "Outputs:";'
        ' echo "pizzabus-lab.HttpApiUrl = https://x/"',
    )

    output, printed = _run(tmp_path, npx)

    assert isinstance(output, str)
    assert "aws-cdk@2 deploy --app" in output
    assert "-m pizzabus.aws.app" in output
    assert "--output" in output
    assert "--all" in output
    assert "✅  pizzabus-lab" in printed
    assert "pizzabus-lab.HttpApiUrl = https://x/" in printed
    assert "args:" not in printed  # only milestones are printed; the rest is the status line


def test_the_region_and_profile_reach_the_cdk_cli() -> None:
    run = CdkRun(action="deploy", args=[], outdir=Path("cdk.out"), profile="lab", target=TARGET)
    assert run.command("npx")[-2:] == ["--profile", "lab"]
    env = run.environment()
    assert (env["AWS_PROFILE"], env["AWS_REGION"]) == ("lab", "eu-west-1")


def test_without_npx_the_error_says_to_install_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(DeployError, match=r"Install Node\.js"):
        find_npx()


@pytest.mark.parametrize("command", [deploy, destroy], ids=["deploy", "destroy"])
def test_the_commands_report_errors_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: object
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no npx
    result = CliRunner().invoke(command, ["--region", "eu-west-1"])  # type: ignore[arg-type]
    assert result.exit_code == 1
    assert "Install Node.js" in result.output
    assert "Traceback" not in result.output


def test_deploy_without_credentials_says_how_to_configure_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _fake_npx(tmp_path, "exit 0")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for key in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(key, raising=False)

    result = CliRunner().invoke(deploy, ["--region", "eu-west-1"])

    assert result.exit_code == 1
    assert "No AWS credentials were found" in result.output
    assert "aws configure" in result.output


def test_deploy_refuses_a_system_it_cannot_import_before_starting_the_cdk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))  # no npx: the --system check comes first
    result = CliRunner().invoke(deploy, ["--system", "nowhere_sys.system:SYSTEM"])
    assert result.exit_code == 1
    assert "no module named 'nowhere_sys'" in result.output
    assert "Traceback" not in result.output


def test_deploy_hands_the_system_and_its_folder_to_the_cdk_app(tmp_path: Path) -> None:
    """The CDK CLI runs `python -m pizzabus.aws.app` with the context deploy passes; the app
    then synthesizes that system, imported from that folder."""
    example = Path(__file__).resolve().parents[2] / "examples" / "signups"
    context = {"pizzabus:system": "signups.system:SYSTEM", "pizzabus:app_dir": str(example)}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(CDK_CONTEXT_JSON=json.dumps(context), CDK_OUTDIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "pizzabus.aws.app"],
        cwd=tmp_path,  # not the example's folder: app_dir must be what finds it
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (template,) = tmp_path.glob("*.template.json")
    assert '"TableName": "signups"' in template.read_text()
