"""IAM, as far as one function's grants go: a call the definition does not grant fails with
AWS's ``AccessDeniedException``, locally, before the same mistake reaches AWS."""

from __future__ import annotations

from pizzabus.contracts.identity import RuntimeIdentity
from pizzabus.errors import PizzabusError
from pizzabus.system import Function


class AccessDenied(PizzabusError):
    code = "AccessDeniedException"
    status = 400


class Authorizer:
    """Checks a function's calls against its ``grants``."""

    def __init__(self, function: Function, identity: RuntimeIdentity) -> None:
        self.function = function
        self.identity = identity
        self._granted = {(g.kind, g.resource) for g in function.grants}

    def require(self, action: str, kind: str, resource: str, arn: str) -> None:
        if (kind, resource) in self._granted:
            return
        raise AccessDenied(
            f"User: arn:aws:sts::{self.identity.account}:assumed-role/"
            f"{self.function.name}-role/{self.function.name} is not authorized to perform: "
            f"{action} on resource: {arn} because no identity-based policy allows the {action} "
            f'action. Add Grant("{kind}", "{resource}") to function {self.function.name!r} in '
            f"the system definition."
        )

    def table(self, table: str, access: str) -> None:
        kind = "dynamodb:read" if access == "read" else f"dynamodb:{access}"
        if (kind, table) in self._granted:
            return  # every table operation asks: the refusal's text is built only when refused
        arn = f"arn:aws:dynamodb:{self.identity.region}:{self.identity.account}:table/{table}"
        action = "dynamodb:GetItem" if access == "read" else "dynamodb:PutItem"
        self.require(action, kind, table, arn)
