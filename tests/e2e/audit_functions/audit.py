"""Counts every invocation it gets, per event (id, replay-name): a double delivery shows as a
count of 2, where a plain put keyed by event id would hide it. GET /audit lists the counts."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLENAME"])


def lambda_handler(event, context):
    if "routeKey" in event:  # GET /audit: everything recorded so far
        return {"statusCode": 200, "body": json.dumps([_plain(i) for i in _all()])}
    item = event["detail"]["item"]
    table.update_item(
        Key={"kind": "event", "key": f"{event['id']}/{event.get('replay-name', '')}"},
        UpdateExpression="ADD invocations :one SET #id = :id, replay = :replay, "
        "eventtype = :eventtype, order_id = :order_id",
        ExpressionAttributeNames={"#id": "id"},
        ExpressionAttributeValues={
            ":one": 1,
            ":id": event["id"],
            ":replay": event.get("replay-name", ""),
            ":eventtype": item["eventtype"],
            ":order_id": item["order_id"],
        },
    )


def _all():
    params = {"KeyConditionExpression": "kind = :k", "ExpressionAttributeValues": {":k": "event"}}
    items = []
    while True:
        page = table.query(**params)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _plain(item):
    plain = {k: str(v) for k, v in item.items()}
    plain["invocations"] = int(item["invocations"])
    return plain
