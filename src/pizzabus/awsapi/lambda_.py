"""Lambda's REST-JSON API (``/2015-03-31/functions/…``): Invoke and the function listings.

Invoke runs the function in the system's own function runtime, as a rule's delivery would:
``RequestResponse`` answers the handler's result (or its error payload with
``X-Amz-Function-Error: Unhandled``), ``Event`` queues the invocation and answers 202,
``DryRun`` only checks that the function exists (204). ``LogType: Tail`` answers the last 4 KB
of what the invocation logged, base64-encoded, in ``X-Amz-Log-Result``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import time
from typing import Any
from urllib.parse import unquote

from pizzabus.awsapi.backends import Backends
from pizzabus.awsapi.protocol import (
    AwsError,
    AwsRequest,
    AwsResponse,
    json_response,
    rest_error,
)
from pizzabus.functions.errors import FunctionError
from pizzabus.functions.logs import InvocationLog
from pizzabus.system import Function

log = logging.getLogger("pizzabus.awsapi")

#: How much of an invocation's log ``LogType: Tail`` answers (as Lambda: the last 4 KB).
TAIL_BYTES = 4096
_PATH = re.compile(r"^/2015-03-31/functions/?(?:(?P<name>[^/]+)(?P<rest>/[a-z]+)?)?/?$")

Params = dict[str, Any]


class Lambda:
    """Invoke, ListFunctions, GetFunction and GetFunctionConfiguration."""

    def __init__(self, backends: Backends) -> None:
        self._backends = backends
        self._functions = {f.name: f for f in backends.functions}
        self._events: set[asyncio.Task[None]] = set()

    async def handle(self, request: AwsRequest) -> AwsResponse:
        match = _PATH.match(request.path)
        if match is None:
            raise _unknown(request)
        name, rest = match.group("name"), match.group("rest")
        if name is None:
            if request.method == "GET":
                return self._list(request)
            raise _unknown(request)
        function = self._function(unquote(name), request.region)
        if request.method == "POST" and rest == "/invocations":
            return await self._invoke(function, request)
        if request.method == "GET" and rest is None:
            return json_response(
                {
                    "Configuration": self._configuration(function, request.region),
                    "Code": {"RepositoryType": "S3", "Location": function.code_dir.as_uri()},
                },
                "application/json",
            )
        if request.method == "GET" and rest == "/configuration":
            return json_response(self._configuration(function, request.region), "application/json")
        raise _unknown(request)

    def error(self, error: AwsError) -> AwsResponse:
        return rest_error(error)

    # -- functions ------------------------------------------------------------------------------

    def _arn(self, name: str, region: str) -> str:
        return f"arn:aws:lambda:{region}:{self._backends.identity.account}:function:{name}"

    def _function(self, reference: str, region: str) -> Function:
        # A function is named by its name, its ARN, or either with a :qualifier.
        parts = reference.split(":")
        if reference.startswith("arn:"):
            name = parts[6] if len(parts) > 6 else ""
            qualifier = parts[7] if len(parts) > 7 else None
        else:
            name = parts[0]
            qualifier = parts[1] if len(parts) > 1 else None
        function = self._functions.get(name)
        if function is None or qualifier not in (None, "$LATEST"):
            raise AwsError(
                "ResourceNotFoundException",
                f"Function not found: {self._arn(reference, region)}",
                404,
            )
        return function

    def _configuration(self, function: Function, region: str) -> Params:
        code = hashlib.sha256(function.handler.encode() + bytes(function.code_dir)).digest()
        return {
            "FunctionName": function.name,
            "FunctionArn": self._arn(function.name, region),
            "Runtime": function.runtime,
            "Role": (f"arn:aws:iam::{self._backends.identity.account}:role/{function.name}-role"),
            "Handler": function.handler,
            "Description": function.description,
            "Timeout": int(function.timeout.total_seconds()),
            "MemorySize": function.memory_mb,
            "CodeSha256": base64.b64encode(code).decode(),
            "CodeSize": 0,
            "Version": "$LATEST",
            "PackageType": "Zip",
            "Architectures": ["x86_64"],
            "State": "Active",
            "LastUpdateStatus": "Successful",
        }

    def _list(self, request: AwsRequest) -> AwsResponse:
        functions = [
            self._configuration(f, request.region)
            for f in sorted(self._functions.values(), key=lambda f: f.name)
        ]
        return json_response({"Functions": functions}, "application/json")

    # -- invoke ---------------------------------------------------------------------------------

    async def _invoke(self, function: Function, request: AwsRequest) -> AwsResponse:
        kind = request.headers.get("x-amz-invocation-type", "RequestResponse")
        payload = request.body or b"{}"
        try:
            json.loads(payload)
        except ValueError as error:
            raise AwsError(
                "InvalidRequestContentException",
                f"Could not parse request body into json: {error}",
            ) from None
        if kind == "DryRun":
            return AwsResponse(204)
        if kind == "Event":
            task = asyncio.create_task(self._invoke_later(function.name, payload))
            self._events.add(task)
            task.add_done_callback(self._events.discard)
            return AwsResponse(202)
        if kind != "RequestResponse":
            raise AwsError(
                "InvalidParameterValueException",
                f"X-Amz-Invocation-Type {kind!r} is not one of RequestResponse, Event, DryRun",
            )
        tail = request.headers.get("x-amz-log-type") == "Tail"
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        log = InvocationLog()
        started = time.perf_counter()
        failure = ""
        try:
            result = await self._backends.invoke(function.name, payload, log)
            body = json.dumps(result).encode()
        except FunctionError as error:
            headers["X-Amz-Function-Error"] = "Unhandled"
            body = json.dumps(error.payload()).encode()
            failure = f"[ERROR] {error.error_type}: {error.message}\n"
            failure += "".join(f"{line}\n" for line in error.stack_trace)
        if tail:
            elapsed = (time.perf_counter() - started) * 1000
            text = (
                f"START RequestId: {log.request_id} Version: $LATEST\n{log.text()}{failure}"
                f"END RequestId: {log.request_id}\n"
                f"REPORT RequestId: {log.request_id}\tDuration: {elapsed:.2f} ms\t"
                f"Memory Size: {function.memory_mb} MB\n"
            )
            headers["X-Amz-Log-Result"] = base64.b64encode(text.encode()[-TAIL_BYTES:]).decode()
        return AwsResponse(200, body, {"content-type": "application/json", **headers})

    async def _invoke_later(self, name: str, payload: bytes) -> None:
        try:
            await self._backends.invoke(name, payload)
        except FunctionError as error:
            log.warning("asynchronous invocation of %s failed: %s", name, error)


def _unknown(request: AwsRequest) -> AwsError:
    return AwsError(
        "UnknownOperationException",
        f"pizzabus does not implement Lambda's {request.method} {request.path}; it serves "
        "Invoke, ListFunctions, GetFunction and GetFunctionConfiguration",
        404,
    )
