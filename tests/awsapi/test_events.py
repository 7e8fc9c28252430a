"""EventBridge's own API over the system's bus: PutEvents through the bus's pipeline, the
definition's buses, rules, targets and archive, TestEventPattern on our engine, and replays."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from moto import mock_aws

from tests.awsapi.conftest import REGION, Clients

pytestmark = pytest.mark.e2e

BUS = "lab_event_bus"
RULES = [
    "lab_cook_pizza_rule",
    "lab_deliver_pizza_rule",
    "lab_make_pizza_rule",
    "lab_receive_events_rule",
    "noisy_rule",
]


def _order(order_id: str, pizza: str = "margherita") -> dict[str, Any]:
    return {
        "Source": "lab_http_api",
        "DetailType": "make_pizza",
        "EventBusName": BUS,
        "Detail": json.dumps(
            {"item": {"order_id": order_id, "eventtype": "make_pizza", "pizza": pizza}}
        ),
    }


def _stages(client: Clients, order_id: str) -> list[str]:
    answer = client("dynamodb").query(
        TableName="order_timeline",
        KeyConditionExpression="order_id = :o",
        ExpressionAttributeValues={":o": {"S": order_id}},
    )
    return [item["eventtype"]["S"] for item in answer["Items"]]


def _wait_for(condition: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_an_order_put_with_put_events_goes_through_the_rules(client: Clients) -> None:
    order_id = str(uuid.uuid4())
    answer = client("events").put_events(Entries=[_order(order_id)])
    assert answer["FailedEntryCount"] == 0
    assert len(answer["Entries"][0]["EventId"]) == 36
    _wait_for(lambda: len(_stages(client, order_id)) == 4)
    assert _stages(client, order_id) == ["make_pizza", "cook_pizza", "deliver_pizza", "delivered"]


def test_put_events_validates_as_the_bus_does(client: Clients) -> None:
    events = client("events")
    answer = events.put_events(
        Entries=[
            {"Source": "s", "DetailType": "d", "Detail": "not json", "EventBusName": BUS},
            {"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": "nope"},
        ]
    )
    assert answer["FailedEntryCount"] == 2
    codes = [entry["ErrorCode"] for entry in answer["Entries"]]
    assert codes == ["MalformedDetail", "ResourceNotFoundException"]
    with pytest.raises(events.exceptions.ClientError) as refused:
        events.put_events(Entries=[_order(str(uuid.uuid4()))] * 11)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_put_events_answers_as_moto_does_for_what_moto_checks(client: Clients) -> None:
    entries = [
        {"Source": "s", "DetailType": "d", "Detail": "not json", "EventBusName": BUS},
        {"DetailType": "d", "Detail": "{}", "EventBusName": BUS},
    ]
    ours = client("events").put_events(Entries=entries)
    with mock_aws():
        import boto3

        moto = boto3.client(
            "events", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t"
        )
        moto.create_event_bus(Name=BUS)
        theirs = moto.put_events(Entries=entries)
    assert ours["FailedEntryCount"] == theirs["FailedEntryCount"] == 2
    assert [e["ErrorCode"] for e in ours["Entries"]] == [e["ErrorCode"] for e in theirs["Entries"]]


def test_rules_and_targets_are_the_definitions(client: Clients) -> None:
    events = client("events")
    rules = events.list_rules(EventBusName=BUS)["Rules"]
    assert [rule["Name"] for rule in rules] == RULES
    make = events.describe_rule(Name="lab_make_pizza_rule", EventBusName=BUS)
    assert json.loads(make["EventPattern"])["detail"]["item"]["eventtype"] == ["make_pizza"]
    assert make["Arn"] == (f"arn:aws:events:{REGION}:000000000000:rule/{BUS}/lab_make_pizza_rule")
    assert make["State"] == "ENABLED"
    targets = events.list_targets_by_rule(Rule="lab_make_pizza_rule", EventBusName=BUS)
    assert [t["Arn"] for t in targets["Targets"]] == [
        f"arn:aws:lambda:{REGION}:000000000000:function:make_pizza"
    ]
    page = events.list_rules(EventBusName=BUS, Limit=2)
    assert len(page["Rules"]) == 2
    rest = events.list_rules(EventBusName=BUS, NextToken=page["NextToken"])
    assert [r["Name"] for r in page["Rules"] + rest["Rules"]] == RULES
    assert [
        r["Name"] for r in events.list_rules(EventBusName=BUS, NamePrefix="noisy")["Rules"]
    ] == ["noisy_rule"]
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_rule(Name="missing", EventBusName=BUS)
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.list_rules(EventBusName="missing")


def test_buses_are_listed_and_described(client: Clients) -> None:
    events = client("events")
    buses = events.list_event_buses()["EventBuses"]
    assert [bus["Name"] for bus in buses] == [BUS]
    described = events.describe_event_bus(Name=BUS)
    assert described["Arn"] == f"arn:aws:events:{REGION}:000000000000:event-bus/{BUS}"
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_event_bus(Name="missing")


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"source": ["lab_http_api"]}, True),
        ({"detail": {"item": {"pizza": [{"prefix": "marg"}]}}}, True),
        ({"source": ["other"]}, False),
    ],
)
def test_test_event_pattern_uses_the_pattern_engine(
    client: Clients, pattern: dict[str, Any], expected: bool
) -> None:
    event = {
        "id": "1",
        "account": "000000000000",
        "source": "lab_http_api",
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "detail-type": "make_pizza",
        "detail": {"item": {"pizza": "margherita"}},
    }
    answer = client("events").test_event_pattern(
        EventPattern=json.dumps(pattern), Event=json.dumps(event)
    )
    assert answer["Result"] is expected


def test_an_invalid_pattern_raises_invalid_event_pattern_exception(client: Clients) -> None:
    events = client("events")
    with pytest.raises(events.exceptions.InvalidEventPatternException):
        events.test_event_pattern(EventPattern='{"source": "not a list"}', Event="{}")


def test_the_archive_is_listed_and_replays_run_and_are_cancelled(client: Clients) -> None:
    events = client("events")
    archives = events.list_archives()["Archives"]
    assert [a["ArchiveName"] for a in archives] == ["lab_event_bus_archive"]
    archive = events.describe_archive(ArchiveName="lab_event_bus_archive")
    assert archive["RetentionDays"] == 7
    assert archive["EventSourceArn"].endswith(f"event-bus/{BUS}")
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_archive(ArchiveName="missing")

    name = f"replay-{uuid.uuid4().hex[:8]}"
    started = events.start_replay(
        ReplayName=name,
        EventSourceArn=archive["ArchiveArn"],
        EventStartTime=time.time() - 3600,
        EventEndTime=time.time() - 1,
        Destination={
            "Arn": archive["EventSourceArn"],
            "FilterArns": [
                f"arn:aws:events:{REGION}:000000000000:rule/{BUS}/lab_receive_events_rule"
            ],
        },
    )
    assert started["ReplayArn"].endswith(f":replay/{name}")
    assert started["State"] in ("STARTING", "RUNNING", "COMPLETED")
    _wait_for(lambda: events.describe_replay(ReplayName=name)["State"] in ("COMPLETED", "FAILED"))
    described = events.describe_replay(ReplayName=name)
    assert described["State"] == "COMPLETED"
    assert described["Destination"]["FilterArns"][0].endswith("lab_receive_events_rule")
    assert name in [r["ReplayName"] for r in events.list_replays()["Replays"]]
    with pytest.raises(events.exceptions.IllegalStatusException):
        events.cancel_replay(ReplayName=name)  # it is over
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_replay(ReplayName="missing")
    with pytest.raises(events.exceptions.ClientError) as refused:
        events.start_replay(
            ReplayName=name,
            EventSourceArn=archive["ArchiveArn"],
            EventStartTime=time.time() - 60,
            EventEndTime=time.time() - 1,
            Destination={"Arn": archive["EventSourceArn"]},
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
