"""$connect: remember that this connection follows ``?order_id=…``.

Unlike the lab, the item is keyed by (order_id, connection_id), so a second tab does not take
the updates away from the first (§2.4). A missing ``order_id`` refuses the connection with 400.
"""

import os

import boto3

import orders

table = boto3.resource("dynamodb").Table(os.environ.get("TABLENAME"))


def lambda_handler(event, context):
    order_id = (event.get("queryStringParameters") or {}).get("order_id")
    if not order_id:
        return {
            "statusCode": 400,
            "body": "Connect with ?order_id=<the order's id>, e.g. /ws?order_id=1234",
        }
    orders.remember_connection(table, order_id, event["requestContext"]["connectionId"])
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}}
