"""A synchronous handler that kills its whole process (``os._exit``) every time it runs."""

import os


def lambda_handler(event, context):
    os._exit(1)
