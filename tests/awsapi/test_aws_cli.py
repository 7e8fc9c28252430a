"""The real AWS CLI against a running ``pizzabus serve`` (the lab's system), configured by
nothing but ``eval "$(pizzabus env --url …)"``."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from click.testing import CliRunner

from pizzabus.cli.main import cli
from tests.e2e.server import Server, start_server

pytestmark = pytest.mark.e2e

STAGES = ["make_pizza", "cook_pizza", "deliver_pizza", "delivered"]


@pytest.fixture(scope="module")
def lab(private_runtime_dir: None) -> Iterator[Server]:
    running = start_server(("--memory",))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def aws_env(lab: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment a user gets from ``eval "$(pizzabus env --url …)"``, and nothing of
    the machine's own AWS configuration."""
    printed = subprocess.run(
        [sys.executable, "-m", "pizzabus", "env", "--url", lab.url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    words = shlex.split(printed)
    assert words[0] == "export"
    exported = dict(word.split("=", 1) for word in words[1:])
    assert exported["AWS_ENDPOINT_URL"] == lab.url
    assert exported["AWS_ACCESS_KEY_ID"] == "pizzabus"
    assert exported["AWS_SECRET_ACCESS_KEY"] == lab.admin_token
    empty = tmp_path_factory.mktemp("aws-config")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {
        **environ,
        "AWS_CONFIG_FILE": str(empty / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty / "credentials"),
        **exported,
    }


def test_pizzabus_env_finds_the_server_and_its_token_by_url(lab: Server) -> None:
    result = CliRunner().invoke(cli, ["env", "--url", lab.url, "--region", "eu-west-1"])
    assert result.exit_code == 0, result.output
    words = shlex.split(result.output)
    assert dict(word.split("=", 1) for word in words[1:]) == {
        "AWS_ENDPOINT_URL": lab.url,
        "AWS_ACCESS_KEY_ID": "pizzabus",
        "AWS_SECRET_ACCESS_KEY": lab.admin_token,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
    }


def aws(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``aws ARGS`` with the venv's AWS CLI."""
    done = subprocess.run(
        [sys.executable, "-m", "awscli", *args, "--output", "json"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_list_rules_lists_the_four_rules(aws_env: dict[str, str]) -> None:
    done = aws(aws_env, "events", "list-rules", "--event-bus-name", "lab_event_bus")
    assert [rule["Name"] for rule in json.loads(done.stdout)["Rules"]] == [
        "lab_cook_pizza_rule",
        "lab_deliver_pizza_rule",
        "lab_make_pizza_rule",
        "lab_receive_events_rule",
    ]


async def test_an_order_put_with_the_cli_completes_on_a_socket_and_in_the_table(
    lab: Server, aws_env: dict[str, str], tmp_path: Path
) -> None:
    order_id = str(uuid.uuid4())
    detail = {"item": {"order_id": order_id, "eventtype": "make_pizza", "pizza": "margherita"}}
    entries = [
        {
            "Source": "lab_http_api",
            "DetailType": "make_pizza",
            "EventBusName": "lab_event_bus",
            "Detail": json.dumps(detail),
        }
    ]
    async with websockets.connect(f"{lab.ws_url}?order_id={order_id}") as socket:
        done = await asyncio.to_thread(
            aws, aws_env, "events", "put-events", "--entries", json.dumps(entries)
        )
        assert json.loads(done.stdout)["FailedEntryCount"] == 0
        seen = [
            json.loads(await asyncio.wait_for(socket.recv(), 15))["item"]["eventtype"]
            for _ in STAGES
        ]
    assert seen == STAGES

    scanned = await asyncio.to_thread(
        aws, aws_env, "dynamodb", "scan", "--table-name", "order_timeline"
    )
    items = json.loads(scanned.stdout)["Items"]
    assert [item["eventtype"]["S"] for item in items] == STAGES

    out = tmp_path / "out.json"
    payload = json.dumps({"pathParameters": {"order_id": order_id}})
    invoked = await asyncio.to_thread(
        aws,
        aws_env,
        "lambda",
        "invoke",
        "--function-name",
        "get_order",
        "--payload",
        payload,
        str(out),
    )
    assert json.loads(invoked.stdout)["StatusCode"] == 200
    body = json.loads(json.loads(out.read_text())["body"])
    assert [event["item"]["eventtype"] for event in body["events"]] == STAGES


@pytest.mark.parametrize(
    "args",
    [
        ("events", "list-rules", "--event-bus-name", "lab_event_bus"),
        (
            "events",
            "put-events",
            "--entries",
            '[{"Source": "lab_http_api", "DetailType": "x", '
            '"Detail": "{}", "EventBusName": "lab_event_bus"}]',
        ),
        ("dynamodb", "scan", "--table-name", "order_timeline"),
        ("lambda", "invoke", "--function-name", "get_order", "/dev/null"),
    ],
    ids=["list-rules", "put-events", "scan", "invoke"],
)
def test_the_same_calls_without_credentials_get_403(
    aws_env: dict[str, str], args: tuple[str, ...]
) -> None:
    # (AWS CLI v1 exits 255 on a service's error, v2 254.)
    done = aws(aws_env, *args, "--no-sign-request", check=False)
    assert done.returncode in (254, 255), done.stderr
    assert "MissingAuthenticationTokenException" in done.stderr


def test_a_cli_with_another_secret_gets_403(aws_env: dict[str, str]) -> None:
    wrong = {**aws_env, "AWS_SECRET_ACCESS_KEY": "not-the-token"}
    refused = aws(wrong, "dynamodb", "scan", "--table-name", "order_timeline", check=False)
    assert refused.returncode in (254, 255), refused.stderr
    assert "InvalidSignatureException" in refused.stderr
