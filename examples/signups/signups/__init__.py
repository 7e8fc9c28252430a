"""signups: a small system of one's own, served by pizzabus (see docs/your-own-system.md)."""
