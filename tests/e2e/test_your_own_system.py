"""docs/your-own-system.md, followed to the letter: the signups example served from its own
folder with the installed ``pizzabus`` and no PYTHONPATH, a signup posted and read back, a dead
letter with its stack trace, and the stack synthesized with ``pizzabus synth --system``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from pizzabus.access import TOKEN_HEADER, find_server
from tests.e2e.server import REPO, Server, start_server

pytestmark = pytest.mark.e2e

EXAMPLE = REPO / "examples" / "signups"
SYSTEM_REF = "signups.system:SYSTEM"
#: The installed console script, as a reader runs it (`.venv/bin/pizzabus`).
PIZZABUS = str(Path(sys.executable).with_name("pizzabus"))


def _reader_env(runtime_dir: Path) -> dict[str, str]:
    """The environment of a reader's shell: no PYTHONPATH, and a runtime directory of its own
    (other servers on this machine must not be "the one running")."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PIZZABUS_URL"}}
    env["PIZZABUS_RUNTIME_DIR"] = str(runtime_dir)
    return env


def _pizzabus(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PIZZABUS, *args],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("runtime")
    directory.chmod(0o700)
    return directory


@pytest.fixture(scope="module")
def signups(runtime_dir: Path) -> Iterator[Server]:
    server = start_server(
        ("--system", SYSTEM_REF, "--memory", "--max-retry-attempts", "1", "--max-event-age", "60s"),
        cwd=EXAMPLE,
        env=_reader_env(runtime_dir),
        program=(PIZZABUS,),
    )
    yield server
    server.stop()


def _eventually(probe: Callable[[], httpx.Response], timeout: float = 15.0) -> httpx.Response:
    """The first 200 of ``probe`` (the rule's function runs after the POST has answered)."""
    deadline = time.monotonic() + timeout
    while True:
        response = probe()
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def test_the_banner_shows_the_routes_and_the_demo_retry_policy_and_no_web_client(
    signups: Server,
) -> None:
    banner = "".join(signups.output)
    assert f"POST {signups.url}/signups" in banner
    assert f"GET {signups.url}/signups/{{email}}" in banner
    assert "1 retries within 1 min, then the dead-letter queue" in banner
    assert "web client" not in banner  # the system has none (GET / would be 405)


def test_a_signup_posted_is_written_by_the_rules_function_and_read_back(signups: Server) -> None:
    posted = httpx.post(
        f"{signups.url}/signups", json={"email": "Ada@Example.com", "name": "Ada"}, timeout=10
    )
    assert posted.status_code == 200, posted.text
    assert posted.json()["FailedEntryCount"] == 0
    read = _eventually(lambda: httpx.get(f"{signups.url}/signups/ada@example.com", timeout=10))
    assert read.status_code == 200, read.text
    assert read.json()["name"] == "Ada"


def test_a_body_the_schema_refuses_is_answered_400_with_the_example(signups: Server) -> None:
    refused = httpx.post(f"{signups.url}/signups", json={"email": "ada@example.com"}, timeout=10)
    assert refused.status_code == 400
    assert "'name'" in refused.json()["message"]


def test_a_failing_signup_becomes_a_dead_letter_with_lambdas_error_and_stack(
    signups: Server, runtime_dir: Path
) -> None:
    env = dict(_reader_env(runtime_dir), PIZZABUS_URL=signups.url, COLUMNS="80")
    posted = httpx.post(
        f"{signups.url}/signups", json={"email": "x@example.invalid", "name": "X"}, timeout=10
    )
    assert posted.status_code == 200
    letters = _eventually(lambda: _letters_or_404(signups.url, runtime_dir), timeout=20).json()[
        "DeadLetters"
    ]
    (letter,) = [x for x in letters if x["error_type"] == "BlockedAddress"]
    # No --url, no PIZZABUS_URL: the one server running (on its free port) is found by itself.
    listed = _pizzabus("dlq", "list", env=dict(_reader_env(runtime_dir), COLUMNS="80"))
    assert listed.returncode == 0, listed.stderr
    assert letter["id"] in listed.stdout  # whole, even at 80 columns
    shown = _pizzabus("dlq", "show", letter["id"][:6], env=env)
    assert shown.returncode == 0, shown.stderr
    assert "errorType     BlockedAddress" in shown.stdout
    assert "errorMessage  x@example.invalid is on a blocked domain" in shown.stdout
    assert 'record_signup.py", line' in shown.stdout  # the stack trace, in the handler's file
    assert "environment.py" not in shown.stdout  # not the runtime's frames
    as_json = json.loads(_pizzabus("dlq", "show", letter["id"], "--json", env=env).stdout)
    assert as_json["event"]["detail"]["email"] == "x@example.invalid"


def _admin_headers(url: str, runtime_dir: Path) -> dict[str, str]:
    """The admin token of the server at ``url``, from its record, as the CLI finds it."""
    record = find_server(url, directory=runtime_dir)
    assert record is not None, f"no server record for {url} in {runtime_dir}"
    return {TOKEN_HEADER: record.admin_token}


def _letters_or_404(url: str, runtime_dir: Path) -> httpx.Response:
    response = httpx.get(
        f"{url}/_pizzabus/dlq", headers=_admin_headers(url, runtime_dir), timeout=10
    )
    if response.status_code == 200 and not response.json()["DeadLetters"]:
        return httpx.Response(404)
    return response


@pytest.mark.aws
def test_the_system_synthesizes_from_its_folder(tmp_path: Path, runtime_dir: Path) -> None:
    pytest.importorskip("aws_cdk", reason="the aws extra (make install-test) is not installed")
    out = tmp_path / "cdk.out"
    done = _pizzabus(
        "synth", "--system", SYSTEM_REF, "--out", str(out), env=_reader_env(runtime_dir),
        timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (template_file,) = out.glob("*.template.json")
    resources = json.loads(template_file.read_text())["Resources"].values()
    kinds = sorted(r["Type"] for r in resources)
    assert "AWS::DynamoDB::Table" in kinds
    assert "AWS::Events::Rule" in kinds
    assert kinds.count("AWS::Lambda::Function") == 2
    tables = [r for r in resources if r["Type"] == "AWS::DynamoDB::Table"]
    assert tables[0]["Properties"]["TableName"] == "signups"


def test_serving_the_system_from_elsewhere_says_where_to_run_from(runtime_dir: Path) -> None:
    refused = subprocess.run(
        [PIZZABUS, "serve", "--system", SYSTEM_REF, "--memory", "--port", "0"],
        cwd=REPO,
        env=_reader_env(runtime_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert "no module named 'signups'" in refused.stderr
    assert "run pizzabus from the folder that holds signups/" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_missing_attribute_is_called_so(runtime_dir: Path) -> None:
    refused = _pizzabus("synth", "--system", "signups.system:NOPE", env=_reader_env(runtime_dir))
    assert refused.returncode == 1
    assert "has no attribute 'NOPE'" in refused.stderr
    assert "signups.system:SYSTEM" in refused.stderr


def test_dead_letters_are_named_by_any_unique_start_of_their_id(
    signups: Server, runtime_dir: Path
) -> None:
    env = dict(_reader_env(runtime_dir), PIZZABUS_URL=signups.url)
    for name in ("y", "z"):
        httpx.post(
            f"{signups.url}/signups", json={"email": f"{name}@example.invalid", "name": name}
        ).raise_for_status()
    deadline = time.monotonic() + 20
    while (
        len(letters := _pizzabus_json(signups.url, runtime_dir)) < 3 and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    ids = [letter["id"] for letter in letters]
    assert len(ids) >= 3
    ambiguous = _pizzabus("dlq", "show", "dl-", env=env)
    assert ambiguous.returncode == 1
    assert f"'dl-' is the start of {len(ids)} dead letters" in ambiguous.stderr
    unknown = _pizzabus("dlq", "show", "dl-nothing", env=env)
    assert "no dead letter 'dl-nothing'" in unknown.stderr
    unique = next(i[:n] for i in ids for n in range(4, len(i) + 1) if _unique(i[:n], ids))
    redriven = _pizzabus("dlq", "redrive", unique, env=env)
    assert redriven.returncode == 0, redriven.stderr
    assert "Redriven: 1" in redriven.stdout


def _pizzabus_json(url: str, runtime_dir: Path) -> list[dict[str, object]]:
    response = httpx.get(f"{url}/_pizzabus/dlq", headers=_admin_headers(url, runtime_dir))
    letters: list[dict[str, object]] = response.json()["DeadLetters"]
    return letters


def _unique(prefix: str, ids: list[str]) -> bool:
    return sum(i.startswith(prefix) for i in ids) == 1
