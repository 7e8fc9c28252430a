"""The cook_pizza stage with ~5 ms of work first (see pipeline.py)."""

import pipeline


def lambda_handler(event, context):
    return pipeline.advance(event, "deliver_pizza", source="cook_pizza")
