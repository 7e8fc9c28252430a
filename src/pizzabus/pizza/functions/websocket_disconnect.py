"""$disconnect: forget the connection, so pushes stop finding it (§2.3; the lab has no such route)."""

import os

import boto3

import orders

table = boto3.resource("dynamodb").Table(os.environ.get("TABLENAME"))


def lambda_handler(event, context):
    orders.forget_connection(table, event["requestContext"]["connectionId"])
    return {"statusCode": 200}
