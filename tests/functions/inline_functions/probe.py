"""A handler that does what its event says, then reports where it ran and what it saw.

The tests of inline invocations drive it: ``{"do": "raise"}``, ``{"do": "hang_sleeping"}``…
An event without ``do`` is a quick invocation.
"""

import asyncio
import contextlib
import gc
import os
import sys
import threading
import time


class PizzaBurnt(Exception):
    pass


async def _where() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


def _collect_for(seconds):
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        gc.collect()


def _act(action, event):
    if action == "raise":
        raise PizzaBurnt("the oven was too hot")
    if action == "exit":
        sys.exit(3)
    if action == "print":
        print("oven hot")
    if action == "setenv":
        os.environ["TOPPING"] = event["value"]
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "collect":  # the garbage collector's time, not the handler's own
        until = time.perf_counter() + event["seconds"]
        while time.perf_counter() < until:
            gc.collect()
    if action == "wait_while_another_thread_collects":  # blocked, as on I/O, all that time
        other = threading.Thread(target=_collect_for, args=(event["seconds"],))
        other.start()
        other.join()
    if action == "burn":  # CPU, not wall time: the thread's own clock must move
        until = time.thread_time() + event["seconds"]
        while time.thread_time() < until:
            pass


def _hang(action):
    if action == "hang_sleeping":
        while True:  # short sleeps, as a handler polling something would
            time.sleep(0.01)
    if action == "hang_spinning":
        while True:  # pure CPU: never calls into anything that could block
            pass
    if action == "hang_catching":
        while True:
            with contextlib.suppress(Exception):  # a handler that retries whatever fails
                time.sleep(0.01)
    if action == "swallow_timeout":
        # As a bare `except:` would: it catches the timeout's interrupt too.
        with contextlib.suppress(BaseException):
            time.sleep(5)
        return "ran past its timeout"
    return None


def lambda_handler(event, context):
    action = event.get("do")
    if action == "not_json":
        return object()
    if action == "asyncio_run":
        coroutine = _where()
        try:
            return asyncio.run(coroutine)
        finally:
            coroutine.close()  # when asyncio.run refused it, no "never awaited" warning
    swallowed = _hang(action)
    if swallowed is not None:
        return swallowed
    _act(action, event)
    return {
        "thread": threading.current_thread().name,
        "stream": context.log_stream_name,
        "request_id": context.aws_request_id,
        "colour": os.environ.get("COLOUR"),
        "topping": os.environ.get("TOPPING"),
    }
