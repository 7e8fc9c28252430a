"""Writes a signup (the event's ``detail``) to the table named by ``TABLE``.

The same file runs on AWS Lambda with the real boto3; locally pizzabus gives it its own.
"""

import os
import time

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])

#: Addresses that can never receive mail (RFC 2606): refused, so they end as dead letters.
BLOCKED_DOMAINS = ("example.invalid",)


class BlockedAddress(Exception):
    """The address can never be written; retrying will not help."""


def lambda_handler(event, context):
    signup = event["detail"]
    email = signup["email"].lower()
    if email.rpartition("@")[2] in BLOCKED_DOMAINS:
        raise BlockedAddress(f"{email} is on a blocked domain")
    table.put_item(Item={"email": email, "name": signup["name"], "signed_up_at": int(time.time())})
    return {"email": email}
