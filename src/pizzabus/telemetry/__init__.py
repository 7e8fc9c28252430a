"""Telemetry: what the running system did, as Lambda, CloudWatch and X-Ray would show it.

One :class:`~pizzabus.telemetry.recorder.Recorder` per process is the seam: the composition
root (``embedded``, or a distributed gateway or worker) builds a
:class:`~pizzabus.telemetry.recorder.Telemetry` and passes it to the function runtime, the bus,
the gateway and the SDK stand-ins, which report to it in one call per thing that happened.
Behind it, three pure-Python sinks, each cheap on the hot path (an append or a dict bump;
formatting waits for a reader):

- :mod:`.invocation_log`: ``START`` / ``END`` / ``REPORT`` lines, as Lambda writes them;
- :mod:`.metrics`: counters and histograms with CloudWatch's names, served by
  ``prometheus_client`` at ``/metrics``;
- :mod:`.spans`: journey traces in X-Ray's trace-id format (:mod:`.traceid`), bounded.
"""

from pizzabus.telemetry.recorder import NO_TELEMETRY, Recorder, Telemetry

__all__ = ["NO_TELEMETRY", "Recorder", "Telemetry"]
