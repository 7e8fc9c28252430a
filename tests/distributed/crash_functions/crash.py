"""A handler that kills its whole process (``os._exit``) the first time it sees an order."""

import os
import pathlib


def lambda_handler(event, context):
    marker = pathlib.Path(os.environ["CRASH_DIR"]) / event["detail"]["item"]["order_id"]
    if not marker.exists():
        marker.write_text("crashed once")
        os._exit(1)
    marker.with_suffix(".done").write_text("ran again")
    return "fine"
