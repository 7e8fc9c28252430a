"""boto3-shaped clients that handlers use when they run on a pizzabus runtime.

A handler written for Lambda does ``boto3.client("events")``; when the embedded runtime loads it,
``boto3`` resolves to :mod:`pizzabus.sdk.boto3_shim`, whose clients call the runtime in process and
raise ``botocore.exceptions.ClientError`` with AWS's error codes. On Lambda the same file gets
the real boto3.
"""
