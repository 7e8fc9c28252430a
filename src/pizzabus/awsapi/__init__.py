"""AWS's own APIs on the server's port, so the AWS CLI and every SDK work against the system.

    backends.py   the parts of a running system the services use
    dispatch.py   the ASGI dispatcher: which requests are AWS API calls, which service each is
                  for (``X-Amz-Target``, Lambda's REST paths, the SigV4 credential scope), and
                  the SigV4 check with the local credentials
    protocol.py   a request and an answer as the services see them; AWS's error shapes
    dynamodb.py   DynamoDB (JSON 1.0) over the system's table store
    events.py     EventBridge (JSON 1.1) over the bus's PutEvents pipeline, rules and replays
    lambda_.py    Lambda's Invoke and function listing (REST-JSON)
    sqs.py        the dead-letter queues as SQS queues (JSON protocol)

A request that carries neither an AWS target nor an AWS signature for one of these services is
not claimed: the HTTP API's own ``POST /`` still reaches the HTTP API. The services take the
running system's parts through :class:`~pizzabus.awsapi.dispatch.Backends`, so the embedded
and the distributed runtimes mount the same dispatcher.
"""

from pizzabus.awsapi.backends import Backends
from pizzabus.awsapi.dispatch import AwsApis, build_aws_apis

__all__ = ["AwsApis", "Backends", "build_aws_apis"]
