"""GET /orders/{order_id}: the stages an order went through, in order (§2.6)."""

import json
import os

import boto3

import orders

timeline = boto3.resource("dynamodb").Table(os.environ.get("TIMELINE_TABLE"))


def lambda_handler(event, context):
    order_id = (event.get("pathParameters") or {}).get("order_id", "")
    events = orders.timeline_of(timeline, order_id)
    if not events:
        return _json(404, {"message": f"No order {order_id!r} is known. Place it with POST /."})
    return _json(200, {"order_id": order_id, "events": events})


def _json(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
