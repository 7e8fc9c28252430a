"""``boto3.client("events")``, locally: PutEvents on the system's buses."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ParamValidationError

from pizzabus.clock import iso8601
from pizzabus.errors import PizzabusError
from pizzabus.sdk.errors import translate
from pizzabus.sdk.grants import Authorizer
from pizzabus.sdk.platform import Platform
from pizzabus.system import bus_name_of
from pizzabus.telemetry.traceid import ENV_VAR as TRACE_VARIABLE

_ENTRY_KEYS = {"Time", "Source", "Resources", "DetailType", "Detail", "EventBusName", "TraceHeader"}


class EventsClient:
    """The part of the EventBridge client a handler uses."""

    def __init__(self, platform: Platform, authorizer: Authorizer) -> None:
        self._platform = platform
        self._authorizer = authorizer

    def put_events(self, *, Entries: Any, EndpointId: str | None = None) -> dict[str, Any]:
        entries = [_check_entry(i, e) for i, e in enumerate(_as_list(Entries))]
        # On Lambda, botocore sends the invocation's _X_AMZN_TRACE_ID with the call, and
        # EventBridge carries it on to the targets: the event joins the invocation's trace.
        trace = os.environ.get(TRACE_VARIABLE)
        if trace is not None:
            for entry in entries:
                entry.setdefault("TraceHeader", trace)
        identity = self._platform.identity
        try:
            for entry in entries:
                bus = bus_name_of(entry.get("EventBusName") or "default")
                self._authorizer.require(
                    "events:PutEvents",
                    bus,
                    f"arn:aws:events:{identity.region}:{identity.account}:event-bus/{bus}",
                )
            response = self._platform.put_events(entries)
        except PizzabusError as error:
            raise translate(error, "PutEvents") from error
        response["ResponseMetadata"] = {"HTTPStatusCode": 200, "RetryAttempts": 0}
        return response


def _as_list(entries: Any) -> list[Any]:
    if not isinstance(entries, list | tuple):
        raise ParamValidationError(
            report=f"Invalid type for parameter Entries, value: {entries!r}, type: "
            f"{type(entries)}, valid types: <class 'list'>, <class 'tuple'>"
        )
    return list(entries)


def _check_entry(index: int, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise ParamValidationError(
            report=f"Invalid type for parameter Entries[{index}], value: {entry!r}, type: "
            f"{type(entry)}, valid types: <class 'dict'>"
        )
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise ParamValidationError(
            report=f'Unknown parameter in Entries[{index}]: "{unknown[0]}", must be one of: '
            f"{', '.join(sorted(_ENTRY_KEYS))}"
        )
    checked = dict(entry)
    if isinstance(checked.get("Time"), datetime):
        checked["Time"] = iso8601(checked["Time"].timestamp())
    return checked
