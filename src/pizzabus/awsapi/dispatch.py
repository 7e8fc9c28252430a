"""The AWS API dispatcher: one endpoint for every service, routed by the request.

An SDK's request names its service in one of three ways: the ``X-Amz-Target`` header of the
JSON protocols (``DynamoDB_20120810.GetItem``, ``AWSEvents.PutEvents``, ``AmazonSQS.…``),
Lambda's REST paths (``/2015-03-31/functions/…``), and the service of the SigV4 credential
scope. A request with none of these is not ours (:meth:`AwsApis.service_of` answers None) and
goes on to the gateway, so the HTTP API's ``POST /`` is untouched; ``@connections``, signed for
``execute-api``, is not ours either.

Every claimed request must be signed with SigV4 by the local credentials (access key id
``pizzabus``, the admin token as secret): otherwise 403, in the service's own error shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from starlette.types import Receive, Scope, Send

from pizzabus.access import SignatureError, SignedRequest, verify_sigv4
from pizzabus.awsapi.backends import Backends
from pizzabus.awsapi.dynamodb import DynamoDB
from pizzabus.awsapi.events import EventBridge
from pizzabus.awsapi.lambda_ import Lambda
from pizzabus.awsapi.protocol import (
    AwsError,
    AwsRequest,
    AwsResponse,
    from_pizzabus,
    json_error,
)
from pizzabus.awsapi.sqs import Sqs
from pizzabus.clock import Clock
from pizzabus.errors import PizzabusError

log = logging.getLogger("pizzabus.awsapi")

#: The largest request body taken (DynamoDB's own limit is 16 MB).
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Lambda's REST paths all start with the API version.
LAMBDA_PREFIX = "/2015-03-31/functions"
#: ``X-Amz-Target`` prefix → service.
TARGETS = {"DynamoDB_20120810": "dynamodb", "AWSEvents": "events", "AmazonSQS": "sqs"}
SERVICES = ("dynamodb", "events", "lambda", "sqs")
_UNKNOWN = "unknown"


class Service(Protocol):
    """One AWS service: answers its operations, and shapes its errors."""

    async def handle(self, request: AwsRequest) -> AwsResponse: ...

    def error(self, error: AwsError) -> AwsResponse: ...


class _Unknown:
    """What answers a target of a service pizzabus does not serve."""

    async def handle(self, request: AwsRequest) -> AwsResponse:
        raise AwsError(
            "UnknownOperationException",
            f"pizzabus does not serve {request.headers.get('x-amz-target')!r}; it serves "
            f"{', '.join(SERVICES)} (see the README, 'AWS APIs')",
        )

    def error(self, error: AwsError) -> AwsResponse:
        return json_error(error, "com.amazonaws.pizzabus", "application/x-amz-json-1.1")


class AwsApis:
    """The ASGI application of the AWS APIs; :meth:`service_of` says which requests it takes."""

    def __init__(self, services: Mapping[str, Service], *, secret: str, clock: Clock) -> None:
        self._services = {**services, _UNKNOWN: _Unknown()}
        self._secret = secret
        self._clock = clock

    def service_of(self, scope: Scope) -> str | None:
        """The service an HTTP request is for, or None when it is no AWS API call."""
        if scope["path"].startswith(LAMBDA_PREFIX):
            return "lambda"
        for name, value in scope["headers"]:
            if name == b"x-amz-target":
                return TARGETS.get(value.partition(b".")[0].decode("latin-1"), _UNKNOWN)
            if name == b"authorization" and value.startswith(b"AWS4-HMAC-SHA256"):
                service = _scope_service(value.decode("latin-1"))
                if service in SERVICES:
                    return service
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = self.service_of(scope) or _UNKNOWN
        service = self._services.get(name) or self._services[_UNKNOWN]
        response = await self._answer(name, service, scope, receive)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": response.asgi_headers(),
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    async def _answer(
        self, name: str, service: Service, scope: Scope, receive: Receive
    ) -> AwsResponse:
        try:
            body = await _read_body(receive)
            signed = SignedRequest.from_asgi(scope, body)
            if name != _UNKNOWN:
                verified = verify_sigv4(
                    signed, secret_key=self._secret, now=self._clock.now(), services=(name,)
                )
                region = verified.region
            else:
                region = "us-east-1"
            target = signed.header("x-amz-target") or ""
            request = AwsRequest(
                method=scope["method"],
                path=scope["path"],
                query=signed.query,
                headers={k.lower(): v for k, v in signed.headers},
                body=body,
                operation=target.partition(".")[2],
                region=region,
            )
            return await service.handle(request)
        except SignatureError as refused:
            return service.error(AwsError(refused.code, refused.message, 403))
        except PizzabusError as error:
            return service.error(from_pizzabus(error))
        except Exception:  # a bug here must answer as AWS does, not drop the connection
            log.exception("%s request failed", name)
            return service.error(
                AwsError("InternalFailure", "The request failed on pizzabus's side", 500)
            )


def _scope_service(authorization: str) -> str | None:
    _, found, rest = authorization.partition("Credential=")
    if not found:
        return None
    parts = rest.split(",", 1)[0].strip().split("/")
    return parts[3] if len(parts) == 5 else None


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise AwsError(
                "RequestEntityTooLargeException",
                f"The request body is larger than {MAX_BODY_BYTES} bytes",
                413,
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def build_aws_apis(backends: Backends, *, secret: str, clock: Clock) -> AwsApis:
    """The AWS APIs over a running system's parts."""
    services: dict[str, Service] = {
        "dynamodb": DynamoDB(backends),
        "events": EventBridge(backends),
        "lambda": Lambda(backends),
        "sqs": Sqs(backends),
    }
    return AwsApis(services, secret=secret, clock=clock)
