"""Moved to :mod:`pizzabus.contracts.ids` (bus, gateway and sdk use the ids too)."""

from pizzabus.contracts.ids import token, uuid4

__all__ = ["token", "uuid4"]
