"""IAM, as far as one function's grants go: a call the definition does not grant fails with
AWS's ``AccessDeniedException``, locally, before the same mistake reaches AWS.

What a grant allows comes from ``pizzabus.system.iam``, the table the synthesized IAM policy
is built from too, so the local verdict is the deployed one.
"""

from __future__ import annotations

from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.errors import PizzabusError
from pizzabus.system import Function
from pizzabus.system.iam import CONNECTION_METHODS, GRANT_ACTIONS, grant_kinds_allowing


class AccessDenied(PizzabusError):
    code = "AccessDeniedException"
    status = 400


class Authorizer:
    """Checks a function's calls against its ``grants``."""

    def __init__(self, function: Function, identity: RuntimeIdentity) -> None:
        self.function = function
        self.identity = identity
        #: (IAM action, resource name) pairs the grants allow: one set lookup per call.
        self._allowed = {
            (action, grant.resource)
            for grant in function.grants
            for action in GRANT_ACTIONS[grant.kind]
        }

    def require(self, action: str, resource: str, arn: str) -> None:
        """Raise :class:`AccessDenied` unless a grant allows ``action`` on ``resource``."""
        if (action, resource) in self._allowed:
            return
        raise AccessDenied(self._refusal(action, resource, arn))

    def table(self, table: str, operation: str) -> None:
        """Check a DynamoDB ``operation`` (``GetItem``, ``Scan``…) on ``table``."""
        action = f"dynamodb:{operation}"
        if (action, table) in self._allowed:
            return  # every table operation asks: the refusal's text is built only when refused
        arn = f"arn:aws:dynamodb:{self.identity.region}:{self.identity.account}:table/{table}"
        raise AccessDenied(self._refusal(action, table, arn))

    def connection(self, api: str, method: str, connection_id: str) -> None:
        """Check a management API call (``method`` on ``@connections/{connection_id}``)."""
        action = "execute-api:ManageConnections"
        arn = (
            f"arn:aws:execute-api:{self.identity.region}:{self.identity.account}:{api}/*/"
            f"{method}/@connections/{connection_id}"
        )
        if method not in CONNECTION_METHODS:
            raise AccessDenied(
                f"{self._who()} is not authorized to perform: {action} on resource: {arn}: a "
                f"ManageConnections grant covers {', '.join(CONNECTION_METHODS)} on "
                f"@connections only, as the deployed role does."
            )
        self.require(action, api, arn)

    def _who(self) -> str:
        name = self.function.name
        return f"User: arn:aws:sts::{self.identity.account}:assumed-role/{name}-role/{name}"

    def _refusal(self, action: str, resource: str, arn: str) -> str:
        denied = (
            f"{self._who()} is not authorized to perform: {action} on resource: {arn} because "
            f"no identity-based policy allows the {action} action."
        )
        kinds = grant_kinds_allowing(action)
        if not kinds:
            allowed = sorted({a for actions in GRANT_ACTIONS.values() for a in actions})
            return f"{denied} No grant allows it; grants allow only: {', '.join(allowed)}."
        return (
            f'{denied} Add Grant("{kinds[0]}", "{resource}") to function '
            f"{self.function.name!r} in the system definition."
        )
