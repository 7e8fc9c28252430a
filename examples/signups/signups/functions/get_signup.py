"""GET /signups/{email}: one signup, or 404 (an HTTP API Lambda proxy handler)."""

import json
import os
from decimal import Decimal

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])


def lambda_handler(event, context):
    email = (event.get("pathParameters") or {}).get("email", "").lower()
    item = table.get_item(Key={"email": email}).get("Item")
    if item is None:
        return _json(404, {"message": f"No signup for {email!r}; POST /signups first."})
    return _json(200, item)


def _json(status, body):
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        # DynamoDB numbers come back as Decimal, here as on AWS.
        "body": json.dumps(body, default=lambda n: int(n) if isinstance(n, Decimal) else str(n)),
    }
