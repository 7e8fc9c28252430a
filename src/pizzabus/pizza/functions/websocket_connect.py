"""$connect: remember that this connection follows ``?order_id=…``, and ask for its catch-up.

Unlike the lab, the item is keyed by (order_id, connection_id), so a second tab does not take
the updates away from the first (§2.4). A missing ``order_id`` refuses the connection with 400.

API Gateway cannot post to a connection during its ``$connect``, so the stages the order already
went through cannot be sent from here. Instead a ``connected`` event goes on the bus:
``receive_events`` sends the connection what it missed, and its delivery fails (and is retried
by the bus) until the socket is open and caught up (§2.6). A plain client that sends nothing,
such as ``wscat``, catches up this way too.
"""

import json
import os

import boto3

import orders

table = boto3.resource("dynamodb").Table(os.environ.get("TABLENAME"))
events = boto3.client("events")


class PutEventsFailed(Exception):
    """The bus refused the ``connected`` event: the connection is refused, so the client
    retries, rather than left without its catch-up."""


def lambda_handler(event, context):
    order_id = (event.get("queryStringParameters") or {}).get("order_id")
    if not order_id:
        return {
            "statusCode": 400,
            "body": "Connect with ?order_id=<the order's id>, e.g. /ws?order_id=1234",
        }
    connection_id = event["requestContext"]["connectionId"]
    orders.remember_connection(table, order_id, connection_id)
    response = events.put_events(
        Entries=[
            {
                "DetailType": "eventtype",
                "Detail": json.dumps(orders.connected_detail(order_id, connection_id)),
                "EventBusName": os.environ.get("EVENT_BUS"),
                "Source": "websocket_connect",
            }
        ]
    )
    if response["FailedEntryCount"]:
        entry = response["Entries"][0]
        raise PutEventsFailed(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}}
