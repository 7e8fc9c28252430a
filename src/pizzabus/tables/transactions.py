"""TransactWriteItems: several writes, on several tables, all done or none.

:class:`TransactWrite` is one action as the request gives it; the engine checks every action's
condition against the items as they are, and writes only when every one holds, under one lock
and one backend transaction (PostgreSQL: one SERIALIZABLE transaction, decided again when
another writer changed an item meanwhile). :class:`TransactionCanceled` carries one reason
per action, in order, as DynamoDB's ``CancellationReasons``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pizzabus.errors import PizzabusError

#: DynamoDB's limit on the actions of one transaction.
MAX_ACTIONS = 100

Kind = Literal["Put", "Update", "Delete", "ConditionCheck"]


@dataclass(frozen=True)
class TransactWrite:
    """One action: ``item`` is the whole item for a Put, the key otherwise."""

    kind: Kind
    table: str
    item: Mapping[str, Any]
    update: str | None = None
    condition: str | None = None
    names: Mapping[str, str] | None = None
    values: Mapping[str, Any] | None = None


class TransactionCanceled(PizzabusError):
    """A condition of the transaction was false (``ConditionalCheckFailed``), or a shared
    store lost the race for its items to other writers too many times in a row
    (``TransactionConflict``): nothing was written."""

    code = "TransactionCanceledException"
    status = 400

    def __init__(self, reasons: list[dict[str, str]]) -> None:
        codes = ", ".join(reason["Code"] for reason in reasons)
        super().__init__(
            f"Transaction cancelled, please refer cancellation reasons for specific reasons "
            f"[{codes}]"
        )
        #: One per action, in order: ``{"Code": "None"}`` or ``{"Code": …, "Message": …}``.
        self.reasons = reasons
