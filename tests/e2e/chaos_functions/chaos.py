"""A handler that misbehaves on purpose, as the order's pizza says."""

import sys
import time


def lambda_handler(event, context):
    pizza = event["detail"]["item"]["pizza"]
    if pizza == "raise":
        raise RuntimeError("chaos: raised on purpose")
    if pizza == "exit":
        sys.exit(1)
    if pizza == "hang":
        while True:  # short sleeps, so the timeout's interrupt lands promptly
            time.sleep(0.05)
    return "fine"
