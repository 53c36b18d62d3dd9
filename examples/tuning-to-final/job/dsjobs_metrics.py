"""Report metrics to dsjobs from a Python job: no dependencies, copy this file into your artifact.

    from dsjobs_metrics import report
    report("accuracy", 0.93)          # prints: DSJOBS_METRIC accuracy=0.93

dsjobs reads `DSJOBS_METRIC name=value` lines from the run's stdout when the run ends (docs/events.md).
"""
import math
import re
import sys

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")


def report(name, value):
    """Print one metric line (flushed at once, so it is in the log even if the run is killed later)."""
    if not _NAME.match(name):
        raise ValueError("metric name %r: letters, digits, _ . - only" % name)
    value = float(value)
    if not math.isfinite(value):
        raise ValueError("metric %s: the value must be a finite number" % name)
    sys.stdout.write("DSJOBS_METRIC %s=%r\n" % (name, value))
    sys.stdout.flush()
