"""The function runtime: Lambda-like execution environments in this process.

Each function gets warm execution environments (one thread each) that load the handler file
afresh, with the function's own environment variables and a boto3 that talks to this runtime.
An invocation gets Lambda's event and ``context``, its timeout and its concurrency limit; an
exception, a timeout or even ``sys.exit`` in a handler fails that invocation only.
"""

from pizzabus.functions.context import LambdaContext
from pizzabus.functions.errors import FunctionError, FunctionTimedOut
from pizzabus.functions.runtime import FunctionRuntime, RuntimeIdentity

__all__ = [
    "FunctionError",
    "FunctionRuntime",
    "FunctionTimedOut",
    "LambdaContext",
    "RuntimeIdentity",
]
