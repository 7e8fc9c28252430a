"""A handler that logs, and fails when its event says so (directly, or as an order's pizza)."""


def lambda_handler(event, context):
    print(f"noisy got {sorted(event)}")
    item = event.get("detail", {}).get("item", {})
    if event.get("fail") or item.get("pizza") == "raise":
        raise RuntimeError("noisy: failed on purpose")
    if "big" in event:
        for line in range(int(event["big"])):
            print(f"line {line:05d} " + "x" * 90)
    return {"echo": event}
