"""The dead-letter queues, answering as SQS (the JSON protocol, ``AmazonSQS.*``).

On AWS each rule target's dead-letter queue is an SQS queue; here dead letters live in the
system's event store (what ``pizzabus dlq`` reads). Each target with a dead-letter queue is one
queue, ``<rule>-<function>-dlq``; receiving a message hides it for its visibility timeout, as SQS
does, and deleting it removes the dead letter. Who holds a message until when is kept by a
:class:`~pizzabus.awsapi.backends.Receipts` (in memory here; shared by every gateway of a
cluster).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pizzabus.awsapi.backends import Backends, MemoryReceipts
from pizzabus.awsapi.protocol import (
    AwsError,
    AwsRequest,
    AwsResponse,
    json_error,
    json_response,
    unknown_operation,
)
from pizzabus.bus.deadletters import DeadLetter

CONTENT_TYPE = "application/x-amz-json-1.0"
NAMESPACE = "com.amazonaws.sqs"
#: SQS's defaults and limits.
DEFAULT_VISIBILITY_TIMEOUT = 30
MAX_VISIBILITY_TIMEOUT = 12 * 3600
MAX_MESSAGES = 10
RETENTION_SECONDS = 1_209_600
#: The codes the Query protocol used, which botocore maps to the modeled exceptions.
_QUERY_CODES = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue;Sender",
    "ReceiptHandleIsInvalid": "ReceiptHandleIsInvalid;Sender",
    "InvalidParameterValue": "InvalidParameterValue;Sender",
}

Params = dict[str, Any]


@dataclass(frozen=True)
class Queue:
    """The dead-letter queue of one rule target."""

    name: str
    bus: str
    rule: str
    target: str

    def holds(self, letter: DeadLetter) -> bool:
        return (letter.bus, letter.rule, letter.target) == (self.bus, self.rule, self.target)


class Sqs:
    """ListQueues, GetQueueUrl, GetQueueAttributes, ReceiveMessage and DeleteMessage."""

    def __init__(self, backends: Backends) -> None:
        self._backends = backends
        self._queues = {
            queue.name: queue
            for bus in backends.buses
            for rule in bus.rules
            for target in rule.targets
            if target.dead_letter_queue
            for queue in [
                Queue(f"{rule.name}-{target.function}-dlq", bus.name, rule.name, target.function)
            ]
        }
        self._receipts = backends.receipts or MemoryReceipts()
        self._operations: dict[str, Callable[[Params, str], Params]] = {
            "ListQueues": self._list_queues,
            "GetQueueUrl": self._get_queue_url,
            "GetQueueAttributes": self._get_queue_attributes,
            "ReceiveMessage": self._receive_message,
            "DeleteMessage": self._delete_message,
        }

    async def handle(self, request: AwsRequest) -> AwsResponse:
        operation = self._operations.get(request.operation)
        if operation is None:
            raise unknown_operation("SQS", request.operation, list(self._operations))
        params = request.json()
        answer = await asyncio.to_thread(operation, params, request.region)
        return json_response(answer, CONTENT_TYPE)

    def error(self, error: AwsError) -> AwsResponse:
        response = json_error(error, NAMESPACE, CONTENT_TYPE)
        query_code = _QUERY_CODES.get(error.code)
        if query_code is not None:
            response.headers["x-amzn-query-error"] = query_code
        return response

    # -- queues ---------------------------------------------------------------------------------

    def _url(self, queue: Queue) -> str:
        base = self._backends.base_url.rstrip("/")
        return f"{base}/{self._backends.identity.account}/{queue.name}"

    def _queue(self, params: Params) -> Queue:
        url = params.get("QueueUrl")
        if not isinstance(url, str):
            raise AwsError("InvalidParameterValue", "QueueUrl is required")
        queue = self._queues.get(url.rstrip("/").rsplit("/", 1)[-1])
        if queue is None:
            raise _no_queue(url)
        return queue

    def _list_queues(self, params: Params, region: str) -> Params:
        prefix = params.get("QueueNamePrefix") or ""
        urls = [self._url(q) for name, q in sorted(self._queues.items()) if name.startswith(prefix)]
        return {"QueueUrls": urls} if urls else {}

    def _get_queue_url(self, params: Params, region: str) -> Params:
        name = params.get("QueueName")
        queue = self._queues.get(name) if isinstance(name, str) else None
        if queue is None:
            raise _no_queue(name)
        return {"QueueUrl": self._url(queue)}

    def _letters(self, queue: Queue) -> list[DeadLetter]:
        return [letter for letter in self._backends.dead_letters.list() if queue.holds(letter)]

    def _get_queue_attributes(self, params: Params, region: str) -> Params:
        queue = self._queue(params)
        now = self._backends.clock.now()
        letters = self._letters(queue)
        hidden = sum(1 for letter in letters if self._receipts.hidden_until(letter.id) > now)
        account = self._backends.identity.account
        attributes = {
            "QueueArn": f"arn:aws:sqs:{region}:{account}:{queue.name}",
            "ApproximateNumberOfMessages": str(len(letters) - hidden),
            "ApproximateNumberOfMessagesNotVisible": str(hidden),
            "ApproximateNumberOfMessagesDelayed": "0",
            "VisibilityTimeout": str(DEFAULT_VISIBILITY_TIMEOUT),
            "MessageRetentionPeriod": str(RETENTION_SECONDS),
            "MaximumMessageSize": "262144",
            "DelaySeconds": "0",
            "ReceiveMessageWaitTimeSeconds": "0",
        }
        wanted = params.get("AttributeNames") or ["All"]
        if "All" not in wanted:
            attributes = {k: v for k, v in attributes.items() if k in wanted}
        return {"Attributes": attributes}

    def _receive_message(self, params: Params, region: str) -> Params:
        queue = self._queue(params)
        count = params.get("MaxNumberOfMessages", 1)
        if not isinstance(count, int) or not 1 <= count <= MAX_MESSAGES:
            raise AwsError(
                "InvalidParameterValue",
                f"Value {count} for parameter MaxNumberOfMessages is invalid. Reason: Must be "
                f"between 1 and {MAX_MESSAGES}, if provided.",
            )
        timeout = params.get("VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT)
        if not isinstance(timeout, int) or not 0 <= timeout <= MAX_VISIBILITY_TIMEOUT:
            raise AwsError(
                "InvalidParameterValue",
                f"VisibilityTimeout must be between 0 and {MAX_VISIBILITY_TIMEOUT} seconds",
            )
        now = self._backends.clock.now()
        messages: list[Params] = []
        for letter in self._letters(queue):
            if len(messages) == count:
                break
            # A claim is atomic: two receives (here or on another gateway) never hand out
            # the same message.
            receives = self._receipts.claim(letter.id, now, now + timeout)
            if receives is not None:
                messages.append(self._message(letter, receives))
        return {"Messages": messages} if messages else {}

    def _message(self, letter: DeadLetter, receives: int) -> Params:
        body = letter.payload.decode("utf-8", errors="replace")
        return {
            "MessageId": letter.id,
            "ReceiptHandle": f"{letter.id}",
            "MD5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
            "Body": body,
            "Attributes": {
                "SentTimestamp": str(int(letter.at * 1000)),
                "ApproximateReceiveCount": str(receives),
                "ApproximateFirstReceiveTimestamp": str(int(letter.at * 1000)),
                "SenderId": self._backends.identity.account,
            },
        }

    def _delete_message(self, params: Params, region: str) -> Params:
        queue = self._queue(params)
        handle = params.get("ReceiptHandle")
        letter = self._backends.dead_letters.get(handle) if isinstance(handle, str) else None
        if letter is None or not queue.holds(letter):
            raise AwsError(
                "ReceiptHandleIsInvalid",
                f"The input receipt handle {handle!r} is not a valid receipt handle of "
                f"{queue.name}.",
            )
        self._backends.dead_letters.remove(letter.id)
        self._receipts.forget(letter.id)
        return {}


def _no_queue(name: Any) -> AwsError:
    return AwsError(
        "QueueDoesNotExist",
        f"The specified queue {name} does not exist; `aws sqs list-queues` lists the "
        "dead-letter queues there are.",
    )
