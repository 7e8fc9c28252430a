"""API Gateway's management API over HTTP: ``POST|GET|DELETE /{stage}/@connections/{id}``.

Handlers on the embedded runtime reach connections in process; this endpoint serves everything
else (the AWS CLI, a script, real boto3 pointed at ``APIGW_ENDPOINT``), with API Gateway's
status codes and its ``x-amzn-ErrorType`` header, which botocore reads.

As on AWS (where the caller needs ``execute-api:ManageConnections``), every request must be
signed with SigV4: here by the local credentials, access key id ``pizzabus`` and the admin token
as the secret key. An unsigned or wrongly signed request gets 403 ``ForbiddenException``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pizzabus.access import ACCESS_KEY_ID, SignatureError, SignedRequest, verify_sigv4
from pizzabus.clock import Clock
from pizzabus.contracts.connections import ConnectionDirectory
from pizzabus.errors import PizzabusError
from pizzabus.gateway.http_api import BadRequest, read_body


def management_routes(
    registry: ConnectionDirectory, stage: str, *, secret: str, clock: Clock
) -> list[Route]:
    """The management API's routes; requests must be signed by ``pizzabus`` / ``secret``."""

    async def endpoint(request: Request) -> Response:
        connection_id = request.path_params["connection_id"]
        try:
            data = await read_body(request, registry.max_message_bytes)
            verify_sigv4(
                SignedRequest.from_asgi(request.scope, data),
                secret_key=secret,
                now=clock.now(),
                access_key_id=ACCESS_KEY_ID,
                services=("execute-api",),
            )
            if request.method == "POST":
                registry.post(connection_id, data)
                return Response(status_code=200)
            if request.method == "GET":
                info = registry.get(connection_id)
                return JSONResponse(
                    {
                        "connectedAt": info["ConnectedAt"].isoformat(),
                        "identity": {
                            "sourceIp": info["Identity"]["SourceIp"],
                            "userAgent": info["Identity"]["UserAgent"],
                        },
                        "lastActiveAt": info["LastActiveAt"].isoformat(),
                    }
                )
            registry.delete(connection_id)
            return Response(status_code=204)
        except SignatureError as refused:
            return _error(403, "ForbiddenException", refused.message)
        except BadRequest as refused:
            return _error(refused.status, "PayloadTooLargeException", refused.message)
        except PizzabusError as error:
            return _error(error.status, error.code, error.message)

    methods = ["POST", "GET", "DELETE"]
    return [
        Route(f"/{stage}/@connections/{{connection_id}}", endpoint, methods=methods),
        Route("/@connections/{connection_id}", endpoint, methods=methods),
    ]


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"message": message}, status_code=status, headers={"x-amzn-ErrorType": code}
    )
