"""The events API Gateway gives a Lambda integration: WebSocket routes and HTTP payload 2.0."""

from __future__ import annotations

import base64
import functools
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.contracts.ids import token, uuid4


def _request_time(now: float) -> str:
    return _format_second(int(now))


@functools.lru_cache(maxsize=4)
def _format_second(second: int) -> str:
    # Every socket event carries the time, to the second; strftime once a second is enough.
    return datetime.fromtimestamp(second, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _query(raw: str) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    pairs = parse_qsl(raw, keep_blank_values=True)
    if not pairs:
        return None, None
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        multi.setdefault(key, []).append(value)
    return {k: v[-1] for k, v in multi.items()}, multi


def websocket_event(
    *,
    route_key: str,
    event_type: str,
    connection_id: str,
    connected_at: float,
    api_id: str,
    stage: str,
    domain: str,
    source_ip: str,
    user_agent: str,
    headers: Mapping[str, str] | None = None,
    query_string: str = "",
    body: str | bytes | None = None,
    disconnect: tuple[int, str] | None = None,
) -> dict[str, Any]:
    """A WebSocket API event for ``$connect`` (CONNECT), a message (MESSAGE) or
    ``$disconnect`` (DISCONNECT), shaped as API Gateway sends it."""
    now = time.time()
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": uuid4(),
        "requestTime": _request_time(now),
        "messageDirection": "IN",
        "stage": stage,
        "connectedAt": int(connected_at * 1000),
        "requestTimeEpoch": int(now * 1000),
        "identity": {"sourceIp": source_ip, "userAgent": user_agent},
        "requestId": uuid4(),
        "domainName": domain,
        "connectionId": connection_id,
        "apiId": api_id,
    }
    event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
    if event_type == "CONNECT":
        single, multi = _query(query_string)
        event["headers"] = dict(headers or {})
        event["multiValueHeaders"] = {k: [v] for k, v in (headers or {}).items()}
        if single is not None:
            event["queryStringParameters"] = single
            event["multiValueQueryStringParameters"] = multi
    elif event_type == "MESSAGE":
        context["messageId"] = base64.b64encode(token(9)).decode()
        if isinstance(body, bytes):
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = body or ""
    elif event_type == "DISCONNECT":
        event["headers"] = dict(headers or {})
        if disconnect is not None:
            context["disconnectStatusCode"], context["disconnectReason"] = disconnect
    return event


def http_event(
    *,
    route_key: str,
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str],
    path_parameters: Mapping[str, str],
    body: bytes,
    identity: RuntimeIdentity,
    api_id: str,
    domain: str,
    source_ip: str,
) -> dict[str, Any]:
    """An HTTP API event in payload format 2.0. ``headers`` are lower-case, a repeated one's
    values already comma-joined."""
    now = time.time()
    _, multi = _query(raw_query)
    cookie = headers.get("cookie")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        # Format 2.0 moves the Cookie header to ``cookies``.
        "headers": {k: v for k, v in headers.items() if k != "cookie"},
        "requestContext": {
            "accountId": identity.account,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".", maxsplit=1)[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid4(),
            "routeKey": route_key,
            "stage": "$default",
            "time": _request_time(now),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookie:
        event["cookies"] = [c.strip() for c in cookie.split(";") if c.strip()]
    if multi is not None:  # format 2.0 joins a repeated parameter's values with commas
        event["queryStringParameters"] = {k: ",".join(v) for k, v in multi.items()}
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        try:
            event["body"] = body.decode()
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event
