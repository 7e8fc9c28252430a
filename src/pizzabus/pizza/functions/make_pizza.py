"""The make_pizza stage: sets eventtype to ``cook_pizza`` and puts the event back on the bus."""

import pipeline


def lambda_handler(event, context):
    return pipeline.advance(event, "cook_pizza", source="make_pizza")
