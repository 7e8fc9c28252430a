"""``boto3.client("apigatewaymanagementapi", endpoint_url=…)``, locally."""

from __future__ import annotations

import os
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

from pizzabus.errors import PizzabusError
from pizzabus.sdk.errors import translate
from pizzabus.sdk.grants import Authorizer
from pizzabus.sdk.platform import ConnectionManager
from pizzabus.telemetry import NO_TELEMETRY, Recorder
from pizzabus.telemetry.traceid import ENV_VAR as TRACE_VARIABLE


class _Exceptions:
    """``client.exceptions``: the modeled errors, as botocore makes them (``ClientError``
    subclasses), so ``except management.exceptions.GoneException`` works as on AWS."""

    class GoneException(ClientError):  # type: ignore[misc]  # botocore is untyped
        pass

    class PayloadTooLargeException(ClientError):  # type: ignore[misc]  # botocore is untyped
        pass

    class ForbiddenException(ClientError):  # type: ignore[misc]  # botocore is untyped
        pass

    class LimitExceededException(ClientError):  # type: ignore[misc]  # botocore is untyped
        pass

    ClientError = ClientError


#: The management API's HTTP method of each operation: what a ManageConnections grant is
#: checked against, as IAM checks it on AWS.
_METHODS = {"PostToConnection": "POST", "GetConnection": "GET", "DeleteConnection": "DELETE"}


class ManagementClient:
    """The API Gateway management API of the system's WebSocket API."""

    exceptions = _Exceptions

    def __init__(
        self,
        manager: ConnectionManager,
        authorizer: Authorizer,
        api: str,
        telemetry: Recorder = NO_TELEMETRY,
    ) -> None:
        self._manager = manager
        self._authorizer = authorizer
        self._api = api
        self._telemetry = telemetry

    def post_to_connection(self, *, Data: bytes | str, ConnectionId: str) -> dict[str, Any]:
        data = Data.encode() if isinstance(Data, str) else Data
        if not isinstance(data, bytes | bytearray):
            raise ParamValidationError(
                report=f"Invalid type for parameter Data, value: {Data!r}, type: {type(Data)}, "
                "valid types: <class 'bytes'>, <class 'bytearray'>, file-like object"
            )
        outcome = "ok"
        try:
            self._call(
                "PostToConnection",
                ConnectionId,
                lambda: self._manager.post(ConnectionId, bytes(data)),
            )
        except ClientError as error:
            outcome = error.response.get("Error", {}).get("Code", "error")
            raise
        finally:
            # The trace header botocore would send with the call: the invocation's.
            self._telemetry.pushed(ConnectionId, len(data), outcome, os.environ.get(TRACE_VARIABLE))
        return {"ResponseMetadata": {"HTTPStatusCode": 200, "RetryAttempts": 0}}

    def get_connection(self, *, ConnectionId: str) -> dict[str, Any]:
        info: dict[str, Any] = self._call(
            "GetConnection", ConnectionId, lambda: self._manager.get(ConnectionId)
        )
        return {**info, "ResponseMetadata": {"HTTPStatusCode": 200, "RetryAttempts": 0}}

    def delete_connection(self, *, ConnectionId: str) -> dict[str, Any]:
        self._call("DeleteConnection", ConnectionId, lambda: self._manager.delete(ConnectionId))
        return {"ResponseMetadata": {"HTTPStatusCode": 204, "RetryAttempts": 0}}

    def _call(self, operation: str, connection_id: str, action: Any) -> Any:
        try:
            self._authorizer.connection(self._api, _METHODS[operation], connection_id)
            return action()
        except PizzabusError as error:
            raised = translate(error, operation)
            modeled = getattr(_Exceptions, error.code, None)
            if isinstance(modeled, type) and issubclass(modeled, ClientError):
                raised = modeled(raised.response, operation)
            raise raised from error
