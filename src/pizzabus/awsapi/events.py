"""EventBridge's JSON 1.1 protocol (``AWSEvents.*``) over the running system's bus.

PutEvents goes through the bus's own PutEvents pipeline (the publisher the HTTP API and the
handlers' clients use), so an event put with ``aws events put-events`` is validated, answered
and routed exactly as any other. Rules, targets and archives are read from the definition;
replays are the system's own replays (``pizzabus replay``).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pizzabus.awsapi.backends import Backends
from pizzabus.awsapi.protocol import (
    AwsError,
    AwsRequest,
    AwsResponse,
    json_error,
    json_response,
    unknown_operation,
)
from pizzabus.errors import PizzabusError
from pizzabus.patterns import compile_pattern, validate_event_envelope
from pizzabus.system import EventBus, Rule

CONTENT_TYPE = "application/x-amz-json-1.1"
NAMESPACE = "com.amazonaws.events"
DEFAULT_BUS = "default"

Params = dict[str, Any]
T = TypeVar("T")


async def _resolved(answer: T | Awaitable[T]) -> T:
    """A runtime's answer, awaited when it comes from the network (a cluster's replays)."""
    if inspect.isawaitable(answer):
        return await answer
    return answer


class EventBridge:
    """The EventBridge operations over buses, rules, archives and replays."""

    def __init__(self, backends: Backends) -> None:
        self._backends = backends
        self._buses = {bus.name: bus for bus in backends.buses}
        self._sync: dict[str, Callable[[Params, str], Params | Awaitable[Params]]] = {
            "ListEventBuses": self._list_buses,
            "DescribeEventBus": self._describe_bus,
            "ListRules": self._list_rules,
            "DescribeRule": self._describe_rule,
            "ListTargetsByRule": self._list_targets,
            "TestEventPattern": self._test_event_pattern,
            "ListArchives": self._list_archives,
            "DescribeArchive": self._describe_archive,
            "StartReplay": self._start_replay,
            "DescribeReplay": self._describe_replay,
            "ListReplays": self._list_replays,
            "CancelReplay": self._cancel_replay,
        }

    async def handle(self, request: AwsRequest) -> AwsResponse:
        params = request.json()
        if request.operation == "PutEvents":
            entries = params.get("Entries")
            answer = await self._backends.publisher.put_events_async(entries)
            return json_response(answer, CONTENT_TYPE)
        operation = self._sync.get(request.operation)
        if operation is None:
            raise unknown_operation("EventBridge", request.operation, [*self._sync, "PutEvents"])
        return json_response(await _resolved(operation(params, request.region)), CONTENT_TYPE)

    def error(self, error: AwsError) -> AwsResponse:
        return json_error(error, NAMESPACE, CONTENT_TYPE)

    # -- ARNs -----------------------------------------------------------------------------------

    def _arn(self, region: str, resource: str) -> str:
        return f"arn:aws:events:{region}:{self._backends.identity.account}:{resource}"

    def _bus_arn(self, bus: str, region: str) -> str:
        return self._arn(region, f"event-bus/{bus}")

    def _rule_arn(self, bus: str, rule: str, region: str) -> str:
        path = rule if bus == DEFAULT_BUS else f"{bus}/{rule}"
        return self._arn(region, f"rule/{path}")

    # -- buses and rules ------------------------------------------------------------------------

    def _bus(self, params: Params, key: str = "EventBusName") -> EventBus:
        name = params.get(key) or DEFAULT_BUS
        if not isinstance(name, str):
            raise AwsError("ValidationException", f"{key} must be a string")
        name = name.rsplit("/", 1)[-1]  # an ARN names the bus after its last slash
        bus = self._buses.get(name)
        if bus is None:
            raise AwsError(
                "ResourceNotFoundException",
                f"Event bus {name} does not exist (this system has {', '.join(self._buses)}).",
            )
        return bus

    def _list_buses(self, params: Params, region: str) -> Params:
        prefix = params.get("NamePrefix") or ""
        return {
            "EventBuses": [
                {"Name": name, "Arn": self._bus_arn(name, region)}
                for name in self._buses
                if name.startswith(prefix)
            ]
        }

    def _describe_bus(self, params: Params, region: str) -> Params:
        bus = self._bus(params, "Name")
        return {"Name": bus.name, "Arn": self._bus_arn(bus.name, region)}

    def _rule(self, bus: EventBus, name: Any) -> Rule:
        for rule in bus.rules:
            if rule.name == name:
                return rule
        raise AwsError(
            "ResourceNotFoundException", f"Rule {name} does not exist on EventBus {bus.name}."
        )

    def _describe(self, bus: EventBus, rule: Rule, region: str) -> Params:
        described: Params = {
            "Name": rule.name,
            "Arn": self._rule_arn(bus.name, rule.name, region),
            "EventPattern": json.dumps(rule.event_pattern),
            "State": "ENABLED",
            "EventBusName": bus.name,
        }
        if rule.description:
            described["Description"] = rule.description
        return described

    def _list_rules(self, params: Params, region: str) -> Params:
        bus = self._bus(params)
        prefix = params.get("NamePrefix") or ""
        rules = [
            self._describe(bus, rule, region)
            for rule in sorted(bus.rules, key=lambda r: r.name)
            if rule.name.startswith(prefix)
        ]
        return _page(rules, params, "Rules")

    def _describe_rule(self, params: Params, region: str) -> Params:
        bus = self._bus(params)
        rule = self._rule(bus, params.get("Name"))
        return {**self._describe(bus, rule, region), "CreatedBy": self._backends.identity.account}

    def _list_targets(self, params: Params, region: str) -> Params:
        bus = self._bus(params)
        rule = self._rule(bus, params.get("Rule"))
        account = self._backends.identity.account
        targets = [
            {
                "Id": target.function,
                "Arn": f"arn:aws:lambda:{region}:{account}:function:{target.function}",
                "RetryPolicy": {
                    "MaximumRetryAttempts": target.retry_policy.maximum_retry_attempts,
                    "MaximumEventAgeInSeconds": int(
                        target.retry_policy.maximum_event_age.total_seconds()
                    ),
                },
            }
            for target in rule.targets
        ]
        return _page(targets, params, "Targets")

    def _test_event_pattern(self, params: Params, region: str) -> Params:
        pattern, event = params.get("EventPattern"), params.get("Event")
        if not isinstance(pattern, str) or not isinstance(event, str):
            raise AwsError(
                "ValidationException", "EventPattern and Event are required, each as JSON text"
            )
        return {"Result": compile_pattern(pattern).matches(validate_event_envelope(event))}

    # -- archives and replays -------------------------------------------------------------------

    def _archives(self, region: str) -> list[Params]:
        archives = []
        for bus in self._buses.values():
            archive = bus.archive
            if archive is None:
                continue
            described: Params = {
                "ArchiveName": archive.name,
                "ArchiveArn": self._arn(region, f"archive/{archive.name}"),
                "EventSourceArn": self._bus_arn(bus.name, region),
                "State": "ENABLED",
                "RetentionDays": (archive.retention.days if archive.retention is not None else 0),
            }
            if archive.event_pattern is not None:
                described["EventPattern"] = json.dumps(archive.event_pattern)
            archives.append(described)
        return archives

    def _list_archives(self, params: Params, region: str) -> Params:
        prefix = params.get("NamePrefix") or ""
        source = params.get("EventSourceArn")
        archives = [
            {k: v for k, v in a.items() if k not in ("ArchiveArn", "EventPattern")}
            for a in self._archives(region)
            if a["ArchiveName"].startswith(prefix)
            and (source is None or a["EventSourceArn"] == source)
        ]
        return _page(archives, params, "Archives")

    def _archive(self, name: Any, region: str) -> Params:
        for archive in self._archives(region):
            if name in (archive["ArchiveName"], archive["ArchiveArn"]):
                return archive
        raise AwsError("ResourceNotFoundException", f"Archive {name} does not exist.")

    def _describe_archive(self, params: Params, region: str) -> Params:
        return self._archive(params.get("ArchiveName"), region)

    async def _start_replay(self, params: Params, region: str) -> Params:
        name = params.get("ReplayName")
        archive = self._archive(str(params.get("EventSourceArn", "")).rsplit("/", 1)[-1], region)
        destination = params.get("Destination")
        if not isinstance(destination, dict) or not isinstance(destination.get("Arn"), str):
            raise AwsError("ValidationException", "Destination.Arn (an event bus ARN) is required")
        bus = archive["EventSourceArn"].rsplit("/", 1)[-1]
        if destination["Arn"].rsplit("/", 1)[-1] != bus:
            raise AwsError(
                "ValidationException",
                f"Destination.Arn must be the archive's own event bus, {archive['EventSourceArn']}",
            )
        filters = destination.get("FilterArns")
        rules = [str(arn).rsplit("/", 1)[-1] for arn in filters] if filters else None
        for key in ("EventStartTime", "EventEndTime"):
            if not isinstance(params.get(key), int | float):
                raise AwsError("ValidationException", f"{key} is required (a timestamp)")
        described = await _resolved(
            self._backends.replays.start_replay(
                {
                    "name": name,
                    "bus": bus,
                    "from": params["EventStartTime"],
                    "to": params["EventEndTime"],
                    "rules": rules,
                }
            )
        )
        return {
            "ReplayArn": self._arn(region, f"replay/{described['ReplayName']}"),
            "State": described["State"],
            "StateReason": described["StateReason"],
            "ReplayStartTime": described["ReplayStartTime"],
        }

    def _replay(self, described: Params, region: str) -> Params:
        bus = described["EventSourceArn"]
        archive = next(
            (a for a in self._archives(region) if a["EventSourceArn"].endswith(f"/{bus}")), None
        )
        replay: Params = {
            "ReplayName": described["ReplayName"],
            "ReplayArn": self._arn(region, f"replay/{described['ReplayName']}"),
            "State": described["State"],
            "StateReason": described["StateReason"],
            "EventSourceArn": archive["ArchiveArn"] if archive else self._bus_arn(bus, region),
            "Destination": {"Arn": self._bus_arn(bus, region)},
            "EventStartTime": described["EventStartTime"],
            "EventEndTime": described["EventEndTime"],
            "ReplayStartTime": described["ReplayStartTime"],
        }
        if described.get("Rules"):
            replay["Destination"]["FilterArns"] = [
                self._rule_arn(bus, rule, region) for rule in described["Rules"]
            ]
        if described.get("ReplayEndTime") is not None:
            replay["ReplayEndTime"] = described["ReplayEndTime"]
        return replay

    async def _named_replay(self, params: Params) -> Params:
        name = params.get("ReplayName")
        if not isinstance(name, str):
            raise AwsError("ValidationException", "ReplayName is required")
        try:
            return await _resolved(self._backends.replays.replay(name))
        except PizzabusError as error:
            raise AwsError("ResourceNotFoundException", error.message) from None

    async def _describe_replay(self, params: Params, region: str) -> Params:
        return self._replay(await self._named_replay(params), region)

    async def _list_replays(self, params: Params, region: str) -> Params:
        prefix = params.get("NamePrefix") or ""
        state = params.get("State")
        replays = [
            self._replay(described, region)
            for described in await _resolved(self._backends.replays.replays())
            if described["ReplayName"].startswith(prefix)
            and (state is None or described["State"] == state)
        ]
        return _page(replays, params, "Replays")

    async def _cancel_replay(self, params: Params, region: str) -> Params:
        await self._named_replay(params)
        try:
            described = await _resolved(self._backends.replays.cancel_replay(params["ReplayName"]))
        except PizzabusError as error:
            raise AwsError("IllegalStatusException", error.message) from None
        return {
            "ReplayArn": self._arn(region, f"replay/{described['ReplayName']}"),
            "State": described["State"],
            "StateReason": described["StateReason"],
        }


def _page(items: list[Params], params: Params, key: str) -> Params:
    """One page of ``items`` (``Limit``, ``NextToken`` as EventBridge pages lists)."""
    token = params.get("NextToken")
    start = 0
    if token is not None:
        try:
            start = int(token)
        except (TypeError, ValueError):
            raise AwsError(
                "ValidationException", f"NextToken {token!r} is not one this server gave"
            ) from None
    limit = params.get("Limit", 100)
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise AwsError("ValidationException", "Limit must be between 1 and 100")
    answer: Params = {key: items[start : start + limit]}
    if start + limit < len(items):
        answer["NextToken"] = str(start + limit)
    return answer
