"""What make_pizza, cook_pizza and deliver_pizza share: set the next stage, put it on the bus.

Unlike the lab, a failed put raises (§2.5): the bus then retries this invocation and finally
parks it in the target's dead-letter queue, instead of the order silently stopping here.

``STAGE_DELAY_MS`` (0 unless set) makes each stage take that long, so that a person can watch
a pizza move on the web page: the times the page shows stay the real ones. ``STAGE_WORK_MS``
(0 unless set) makes each stage busy the CPU that long first, as a handler that computes does
(the benchmarks' slow system: how orders/s scale with worker processes).
"""

import json
import os
import time

import boto3

events = boto3.client("events")


class PutEventsFailed(Exception):
    """EventBridge accepted the request but refused the entry (e.g. throttled)."""


def busy(seconds):
    """Compute for ``seconds`` of this thread's CPU (not sleep: sleeping scales without more
    cores, and another thread's CPU time is not this handler's)."""
    until = time.thread_time() + seconds
    n = 0
    while time.thread_time() < until:
        n += sum(i * i for i in range(200))
    return n


def advance(event, next_stage, source):
    work_ms = float(os.environ.get("STAGE_WORK_MS") or 0)
    if work_ms > 0:
        busy(work_ms / 1000)
    delay_ms = int(os.environ.get("STAGE_DELAY_MS") or 0)
    if delay_ms > 0:
        time.sleep(delay_ms / 1000)
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
        raise PutEventsFailed(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    return response
