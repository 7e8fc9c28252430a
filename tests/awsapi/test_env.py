"""``pizzabus env``: the exports that point the AWS CLI and SDKs at a server, or a clear error."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from click.testing import CliRunner

from pizzabus.access import RUNTIME_DIR_ENV, ServerRecord, write_server_record
from pizzabus.cli.main import cli


def _exports(output: str) -> dict[str, str]:
    words = shlex.split(output)
    assert words[0] == "export"
    return dict(word.split("=", 1) for word in words[1:])


def test_env_with_no_server_running_says_how_to_start_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["env"], env={RUNTIME_DIR_ENV: str(tmp_path), "PIZZABUS_ADMIN_TOKEN": ""}
    )
    assert result.exit_code == 1
    assert "no pizzabus server runs on this machine" in result.output
    assert "pizzabus serve" in result.output


def test_env_for_a_server_of_another_machine_needs_its_token(tmp_path: Path) -> None:
    env = {RUNTIME_DIR_ENV: str(tmp_path), "PIZZABUS_ADMIN_TOKEN": ""}
    url = "http://10.1.2.3:8000"
    refused = CliRunner().invoke(cli, ["env", "--url", url], env=env)
    assert refused.exit_code == 1
    assert "--token" in refused.output
    given = CliRunner().invoke(cli, ["env", "--url", url, "--token", "t0k3n"], env=env)
    assert given.exit_code == 0, given.output
    exported = _exports(given.output)
    assert exported["AWS_ENDPOINT_URL"] == url
    assert exported["AWS_SECRET_ACCESS_KEY"] == "t0k3n"


def test_env_with_several_servers_asks_which(tmp_path: Path) -> None:
    for port in (8101, 8102):
        record = ServerRecord(
            url=f"http://127.0.0.1:{port}",
            host="127.0.0.1",
            port=port,
            pid=os.getpid(),  # alive, as a running server's is
            admin_token=f"token-{port}",
            data_dir=None,
            started_at=0.0,
        )
        write_server_record(record, tmp_path)
    env = {RUNTIME_DIR_ENV: str(tmp_path), "PIZZABUS_ADMIN_TOKEN": ""}
    result = CliRunner().invoke(cli, ["env"], env=env)
    assert result.exit_code == 1
    assert "say which one with --url" in result.output
    chosen = CliRunner().invoke(cli, ["env", "--url", "http://localhost:8102"], env=env)
    assert _exports(chosen.output)["AWS_SECRET_ACCESS_KEY"] == "token-8102"
