"""The embedded event bus: PutEvents with AWS's validation, rules matched by the pattern engine,
and delivery of matched events to targets with retries and dead letters."""
