"""Tells a socket its own connection id, as a Lambda would: through the management API."""

import json
import os

import boto3


def lambda_handler(event, context):
    connection_id = event["requestContext"]["connectionId"]
    client = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["APIGW_ENDPOINT"])
    client.post_to_connection(
        ConnectionId=connection_id, Data=json.dumps({"connection_id": connection_id}).encode()
    )
    return {"statusCode": 200}
