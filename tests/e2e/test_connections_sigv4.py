"""``@connections`` takes only requests signed with SigV4 by the local credentials, as API
Gateway requires IAM: real boto3 and the AWS CLI configured with ``pizzabus`` / the admin token
work; anything unsigned or signed otherwise gets 403 ``ForbiddenException`` and changes nothing.
Handlers in the process (here ``whoami``) post without signing, as on the embedded runtime."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import websockets
from botocore.exceptions import ClientError

from tests.e2e.server import Server, start_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def whoami() -> Iterator[Server]:
    running = start_server(("--memory", "--system", "tests.e2e.whoami_system:SYSTEM"))
    yield running
    running.stop()


def _management(server: Server, secret: str | None = None, key: str = "pizzabus") -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"{server.url}/production",
        region_name="eu-central-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret or server.admin_token,
    )


async def _my_id(socket: Any) -> str:
    await socket.send(json.dumps({"action": "whoami"}))
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if "connection_id" in frame:
            return str(frame["connection_id"])


async def test_real_boto3_with_the_admin_token_posts_gets_and_deletes(whoami: Server) -> None:
    management = _management(whoami)
    async with websockets.connect(f"{whoami.ws_url}?order_id=sigv4-boto3") as socket:
        connection_id = await _my_id(socket)
        await asyncio.to_thread(
            management.post_to_connection, ConnectionId=connection_id, Data=b"hello"
        )
        assert await asyncio.wait_for(socket.recv(), 10) == "hello"
        described = await asyncio.to_thread(management.get_connection, ConnectionId=connection_id)
        assert described["Identity"]["SourceIp"] == "127.0.0.1"
        await asyncio.to_thread(management.delete_connection, ConnectionId=connection_id)
        await asyncio.wait_for(socket.wait_closed(), 10)


async def test_the_aws_cli_with_the_admin_token_posts_to_a_socket(
    whoami: Server, tmp_path: Path
) -> None:
    data = tmp_path / "data.txt"
    data.write_text("from the aws cli")
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="pizzabus",
        AWS_SECRET_ACCESS_KEY=whoami.admin_token,
        AWS_DEFAULT_REGION="us-west-2",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
    )
    async with websockets.connect(f"{whoami.ws_url}?order_id=sigv4-cli") as socket:
        connection_id = await _my_id(socket)
        command = [
            sys.executable,
            "-m",
            "awscli",
            "apigatewaymanagementapi",
            "post-to-connection",
            "--endpoint-url",
            f"{whoami.url}/production",
            "--connection-id",
            connection_id,
            "--data",
            f"fileb://{data}",
        ]
        done = await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert await asyncio.wait_for(socket.recv(), 10) == "from the aws cli"
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-admin-token"
        refused = await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
        )
        assert refused.returncode != 0
        assert "ForbiddenException" in refused.stderr


async def test_unsigned_or_wrongly_signed_requests_get_403_and_change_nothing(
    whoami: Server,
) -> None:
    async with websockets.connect(f"{whoami.ws_url}?order_id=sigv4-forged") as socket:
        connection_id = await _my_id(socket)
        url = f"{whoami.url}/production/@connections/{connection_id}"
        async with httpx.AsyncClient() as client:
            for method in ("POST", "GET", "DELETE"):
                response = await client.request(method, url, content=b'{"forged": true}')
                assert response.status_code == 403, method
                assert response.headers["x-amzn-errortype"] == "ForbiddenException"
                assert "Missing Authentication Token" in response.json()["message"]
            forged = await client.post(
                url,
                content=b"forged",
                headers={
                    "Authorization": "AWS4-HMAC-SHA256 Credential=pizzabus/20260101/us-east-1/"
                    "execute-api/aws4_request, SignedHeaders=host, Signature=" + "0" * 64,
                    "X-Amz-Date": "20260101T000000Z",
                },
            )
            assert forged.status_code == 403
        for management in (
            _management(whoami, secret="a-guessed-secret-of-some-length"),
            _management(whoami, key="AKIAIOSFODNN7EXAMPLE"),
        ):
            with pytest.raises(ClientError) as refused:
                await asyncio.to_thread(
                    management.post_to_connection, ConnectionId=connection_id, Data=b"forged"
                )
            assert refused.value.response["Error"]["Code"] == "ForbiddenException"
        # The socket is still open, and the first thing it receives is the signed message.
        await asyncio.to_thread(
            _management(whoami).post_to_connection, ConnectionId=connection_id, Data=b"genuine"
        )
        assert await asyncio.wait_for(socket.recv(), 10) == "genuine"
