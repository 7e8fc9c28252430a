"""What each grant of a definition allows, in IAM terms: the one table read by the local
authorizer (``pizzabus.sdk.grants``) and by the synthesized IAM policy (``pizzabus.aws.specs``).

Because both read it, a call a handler may make locally is exactly a call its role allows on
AWS: a local run cannot pass where the deploy then fails with AccessDenied, nor the reverse.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Grant kind → the IAM actions it allows on its resource. ``dynamodb:read`` has no Scan: a
#: scan reads the whole table, which least privilege leaves to an explicit decision.
GRANT_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "events:PutEvents": ("events:PutEvents",),
    "dynamodb:read": ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"),
    "dynamodb:write": (
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    ),
    "execute-api:ManageConnections": ("execute-api:ManageConnections",),
}

#: The management API's HTTP methods a ``ManageConnections`` grant covers: handlers post to
#: connections (``post_to_connection`` is ``POST /@connections/{id}``); GET and DELETE are
#: not granted.
CONNECTION_METHODS: tuple[str, ...] = ("POST",)


def grant_kinds_allowing(action: str) -> list[str]:
    """The grant kinds whose actions include ``action`` (none for, e.g., ``dynamodb:Scan``)."""
    return [kind for kind, actions in GRANT_ACTIONS.items() if action in actions]
