"""Record each stage of an order and push it to every connection that follows the order.

Three kinds of event arrive here:
- a stage event from the bus (rule ``lab_receive_events_rule``): record it in the timeline,
  then push what each connection has not seen yet;
- a ``connected`` event that ``websocket_connect`` put on the bus: send the new connection what
  it missed; until its socket is open and caught up this raises, so the bus retries (§2.6);
- a WebSocket ``sync`` message from a client that just connected: push it what it missed (§2.6).

Unlike the lab, it reads ``websocket_connections`` (§2.2), pushes to all of an order's
connections (§2.4), removes connections that are gone (§2.3), and raises on failure (§2.5).
"""

import os

import boto3

import orders

connections = boto3.resource("dynamodb").Table(os.environ.get("TABLENAME"))
timeline = boto3.resource("dynamodb").Table(os.environ.get("TIMELINE_TABLE"))
management = boto3.client("apigatewaymanagementapi", endpoint_url=os.getenv("APIGW_ENDPOINT"))


def lambda_handler(event, context):
    # A bus event keeps its id across the bus's retries: it names this push's lease, so a
    # retry takes over a lease its failed attempt left (a socket's sync is never retried).
    holder = event.get("id")
    if "detail" in event and orders.is_connected_event(event["detail"]):
        orders.catch_up(connections, timeline, management, event["detail"], holder)
        return {"statusCode": 200}
    if "detail" in event:
        order_id = orders.record_stage(timeline, event["detail"])
    else:
        order_id = orders.order_of_connection(connections, event["requestContext"]["connectionId"])
        if order_id is None:
            return {"statusCode": 410, "body": "This connection no longer follows an order."}
    orders.push_pending(connections, timeline, management, order_id, holder)
    return {"statusCode": 200}
