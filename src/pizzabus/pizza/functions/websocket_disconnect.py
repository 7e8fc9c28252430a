"""$disconnect: forget the connection, so pushes stop finding it.

The lab has no such route, so its closed connections pile up (§2.3).
"""

import os

import boto3

import orders

table = boto3.resource("dynamodb").Table(os.environ.get("TABLENAME"))


def lambda_handler(event, context):
    orders.forget_connection(table, event["requestContext"]["connectionId"])
    return {"statusCode": 200}
