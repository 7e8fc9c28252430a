"""Records every event it receives (id, detail-type, replay-name) in the audit table."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLENAME"])


def lambda_handler(event, context):
    if "routeKey" in event:  # GET /audit: everything recorded so far
        items = table.scan()["Items"]
        return {"statusCode": 200, "body": json.dumps([_plain(i) for i in items])}
    table.put_item(
        Item={
            "key": f"{event['id']}/{event.get('replay-name', '')}",
            "id": event["id"],
            "replay": event.get("replay-name", ""),
            "eventtype": event["detail"]["item"]["eventtype"],
            "order_id": event["detail"]["item"]["order_id"],
        }
    )


def _plain(item):
    return {k: str(v) for k, v in item.items()}
