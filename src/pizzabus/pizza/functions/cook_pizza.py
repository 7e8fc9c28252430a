"""The cook_pizza stage: sets eventtype to ``deliver_pizza`` and puts the event back on the bus."""

import pipeline


def lambda_handler(event, context):
    return pipeline.advance(event, "deliver_pizza", source="cook_pizza")
