"""The lab's stage step (``pizza/functions/pipeline.py``) after ~5 ms of pure-Python work: a
handler that needs the CPU, to show how orders/s scale with worker processes."""

import json
import os
import time

import boto3

events = boto3.client("events")
WORK_SECONDS = float(os.environ.get("WORK_MS", "5")) / 1000


def work():
    """Busy the interpreter (not sleep: sleeping scales without more cores)."""
    until = time.process_time() + WORK_SECONDS
    n = 0
    while time.process_time() < until:
        n += sum(i * i for i in range(200))
    return n


def advance(event, next_stage, source):
    work()
    detail = event["detail"]
    detail["item"]["eventtype"] = next_stage
    response = events.put_events(
        Entries=[
            {
                "DetailType": "eventtype",
                "Detail": json.dumps(detail),
                "EventBusName": os.environ.get("EVENT_BUS"),
                "Source": source,
            },
        ]
    )
    if response["FailedEntryCount"]:
        entry = response["Entries"][0]
        raise RuntimeError(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    return response
