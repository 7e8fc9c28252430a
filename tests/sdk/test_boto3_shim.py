"""The boto3 a handler gets locally: boto3's shapes, AWS's errors, the definition's grants."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from pizzabus.embedded import EmbeddedSystem, Settings
from pizzabus.pizza.system import SYSTEM
from pizzabus.sdk.boto3_shim import UnsupportedService, boto3_module


@pytest.fixture
async def system() -> AsyncIterator[EmbeddedSystem]:
    made = EmbeddedSystem(SYSTEM, Settings(data_dir=None))
    async with made.running():
        yield made


def _boto3(system: EmbeddedSystem, function: str) -> object:
    return boto3_module(system, system.definition.function(function))


def _entry(**overrides: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "Source": "make_pizza",
        "DetailType": "eventtype",
        "Detail": json.dumps({"item": {"order_id": "o1", "eventtype": "cook_pizza"}}),
        "EventBusName": "lab_event_bus",
    }
    entry.update(overrides)
    return entry


async def test_put_events_answers_one_result_per_entry_in_order(system: EmbeddedSystem) -> None:
    events = _boto3(system, "make_pizza").client("events")  # type: ignore[attr-defined]
    response = events.put_events(Entries=[_entry(), _entry(Detail="not json"), _entry()])
    assert response["FailedEntryCount"] == 1
    first, second, third = response["Entries"]
    assert set(first) == {"EventId"}
    assert second == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    assert set(third) == {"EventId"}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


async def test_more_than_ten_entries_is_a_validation_exception(system: EmbeddedSystem) -> None:
    events = _boto3(system, "make_pizza").client("events")  # type: ignore[attr-defined]
    with pytest.raises(ClientError) as raised:
        events.put_events(Entries=[_entry()] * 11)
    assert raised.value.response["Error"]["Code"] == "ValidationException"


async def test_an_unknown_entry_parameter_fails_as_botocore_does(system: EmbeddedSystem) -> None:
    events = _boto3(system, "make_pizza").client("events")  # type: ignore[attr-defined]
    with pytest.raises(ParamValidationError, match="Unknown parameter in Entries\\[0\\]"):
        events.put_events(Entries=[_entry(Colour="red")])


async def test_a_call_the_definition_does_not_grant_is_access_denied(
    system: EmbeddedSystem,
) -> None:
    boto3 = _boto3(system, "get_order")  # may read the timeline, nothing else
    with pytest.raises(ClientError) as raised:
        boto3.client("events").put_events(Entries=[_entry()])  # type: ignore[attr-defined]
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "events:PutEvents" in error["Message"]
    assert 'Grant("events:PutEvents", "lab_event_bus")' in error["Message"]
    table = boto3.resource("dynamodb").Table("websocket_connections")  # type: ignore[attr-defined]
    with pytest.raises(ClientError, match="AccessDeniedException"):
        table.get_item(Key={"order_id": "o1", "connection_id": "c1"})


async def test_posting_to_an_unknown_connection_raises_the_modeled_gone_exception(
    system: EmbeddedSystem,
) -> None:
    boto3 = _boto3(system, "receive_events")
    management = boto3.client(  # type: ignore[attr-defined]
        "apigatewaymanagementapi", endpoint_url=system.endpoint_of_api()
    )
    with pytest.raises(management.exceptions.GoneException) as raised:
        management.post_to_connection(Data=b"hi", ConnectionId="bm9uZQ==")
    assert raised.value.response["Error"]["Code"] == "GoneException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


async def test_a_management_client_for_another_endpoint_is_refused(system: EmbeddedSystem) -> None:
    boto3 = _boto3(system, "receive_events")
    with pytest.raises(Exception, match="APIGW_ENDPOINT"):
        boto3.client("apigatewaymanagementapi", endpoint_url="https://elsewhere.example/prod")  # type: ignore[attr-defined]


async def test_a_service_pizzabus_does_not_offer_says_what_it_offers(
    system: EmbeddedSystem,
) -> None:
    with pytest.raises(UnsupportedService, match="client\\('events'\\)"):
        _boto3(system, "make_pizza").client("s3")  # type: ignore[attr-defined]


def test_the_handlers_folder_is_what_deploys() -> None:
    assert (Path(SYSTEM.functions[0].code_dir) / "make_pizza.py").is_file()
