"""Fixtures every test package may use."""

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.support.postgres"]

# Hypothesis's deadline (200 ms an example) and its too-slow health check are timed
# assertions: on a loaded machine (a CPU hog, seven suites at once) they fail tests whose
# answers are right. Every property test runs without them; its examples still all run.
settings.register_profile("pizzabus", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("pizzabus")
